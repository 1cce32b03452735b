/**
 * The engine's plain full-precision KV cache: per layer, keys and values token-major [P, kvHeads, headDim].
 * Token-major makes appending a chunk a single copy at the end and lets the first P tokens be handed to the
 * graph as a view, with no re-layout per decode step. Capacity doubles, so appends are amortised O(1).
 */
export class PlainKvCache {
  private keys: Float32Array[];
  private values: Float32Array[];
  private capacity: number;
  private used = 0;

  constructor(
    readonly numLayers: number,
    /** kvHeads · headDim: the size of one token's keys (or values) in one layer. */
    readonly rowSize: number,
    initialCapacity = 256,
  ) {
    this.capacity = Math.max(1, initialCapacity);
    this.keys = Array.from({ length: numLayers }, () => new Float32Array(this.capacity * rowSize));
    this.values = Array.from({ length: numLayers }, () => new Float32Array(this.capacity * rowSize));
  }

  get length(): number {
    return this.used;
  }

  /** Appends `tokens` tokens' keys and values for every layer (each array [tokens, kvHeads, headDim]). */
  append(keys: Float32Array[], values: Float32Array[], tokens: number): void {
    if (keys.length !== this.numLayers || values.length !== this.numLayers) {
      throw new Error(`internal error: expected ${this.numLayers} layers of keys and values`);
    }
    this.reserve(this.used + tokens);
    for (let l = 0; l < this.numLayers; l++) {
      this.keys[l]!.set(keys[l]!.subarray(0, tokens * this.rowSize), this.used * this.rowSize);
      this.values[l]!.set(values[l]!.subarray(0, tokens * this.rowSize), this.used * this.rowSize);
    }
    this.used += tokens;
  }

  /** Forgets everything after the first `tokens` tokens (e.g. to reuse a shared prefix). */
  truncate(tokens: number): void {
    if (tokens < 0 || tokens > this.used) throw new RangeError(`cannot truncate a cache of ${this.used} to ${tokens}`);
    this.used = tokens;
  }

  keysView(layer: number): Float32Array {
    return this.keys[layer]!.subarray(0, this.used * this.rowSize);
  }

  valuesView(layer: number): Float32Array {
    return this.values[layer]!.subarray(0, this.used * this.rowSize);
  }

  /** An independent copy of the tokens in use (e.g. the shared sink, extended per request). */
  clone(extraCapacity = 256): PlainKvCache {
    const copy = new PlainKvCache(this.numLayers, this.rowSize, this.used + extraCapacity);
    copy.append(
      this.keys.map((_, l) => this.keysView(l)),
      this.values.map((_, l) => this.valuesView(l)),
      this.used,
    );
    return copy;
  }

  /** Bytes held for the tokens in use (fp32). */
  get bytes(): number {
    return 2 * this.numLayers * this.used * this.rowSize * 4;
  }

  private reserve(tokens: number): void {
    if (tokens <= this.capacity) return;
    let capacity = this.capacity;
    while (capacity < tokens) capacity *= 2;
    const grow = (a: Float32Array) => {
      const b = new Float32Array(capacity * this.rowSize);
      b.set(a.subarray(0, this.used * this.rowSize));
      return b;
    };
    this.keys = this.keys.map(grow);
    this.values = this.values.map(grow);
    this.capacity = capacity;
  }
}
