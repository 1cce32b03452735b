/**
 * The engine's plain full-precision KV cache: per layer, keys and values head-major [kvHeads, capacity, headDim].
 *
 * Head-major is the layout attention reads: the graph multiplies each kv head's keys as they lie (the transpose
 * onnxruntime folds into the MatMul) and never copies the past. The price is paid here, once per token: an append
 * scatters each token's kvHeads rows into their head's stretch. The graph is handed the whole capacity, and the
 * slots past `length` are masked by the attention bias (src/engine/decoder-session.ts), so growth is the only time
 * the past moves: capacity grows in blocks, so that the padding attention reads stays small.
 */

/** Capacity is a multiple of this many tokens, with at least this many spare after a growth. */
const CAPACITY_BLOCK = 128;

export class PlainKvCache {
  private keys: Float32Array[];
  private values: Float32Array[];
  private cap: number;
  private used = 0;
  /** kvHeads · headDim: the size of one token's keys (or values) in one layer. */
  readonly rowSize: number;

  constructor(
    readonly numLayers: number,
    readonly numKvHeads: number,
    readonly headDim: number,
    initialCapacity = CAPACITY_BLOCK,
  ) {
    this.rowSize = numKvHeads * headDim;
    this.cap = Math.max(1, initialCapacity);
    this.keys = Array.from({ length: numLayers }, () => new Float32Array(this.cap * this.rowSize));
    this.values = Array.from({ length: numLayers }, () => new Float32Array(this.cap * this.rowSize));
  }

  get length(): number {
    return this.used;
  }

  /** Token slots per head in the buffers handed to the graph (≥ length; the rest is masked). */
  get capacity(): number {
    return this.cap;
  }

  /** Appends `tokens` tokens' keys and values for every layer (each array token-major [tokens, kvHeads, headDim]). */
  append(keys: Float32Array[], values: Float32Array[], tokens: number): void {
    if (keys.length !== this.numLayers || values.length !== this.numLayers) {
      throw new Error(`internal error: expected ${this.numLayers} layers of keys and values`);
    }
    this.reserve(this.used + tokens);
    for (let l = 0; l < this.numLayers; l++) {
      this.scatter(keys[l]!, this.keys[l]!, tokens);
      this.scatter(values[l]!, this.values[l]!, tokens);
    }
    this.used += tokens;
  }

  /** Forgets everything after the first `tokens` tokens (e.g. to reuse a shared prefix). */
  truncate(tokens: number): void {
    if (tokens < 0 || tokens > this.used) throw new RangeError(`cannot truncate a cache of ${this.used} to ${tokens}`);
    this.used = tokens;
  }

  /** Layer `layer`'s keys, [kvHeads, capacity, headDim]; slots from `length` on are stale or zero. */
  keysBuffer(layer: number): Float32Array {
    return this.keys[layer]!;
  }

  valuesBuffer(layer: number): Float32Array {
    return this.values[layer]!;
  }

  /** The keys of one kv head for tokens [from, to), [to - from, headDim], as a view. */
  headKeys(layer: number, head: number, from = 0, to = this.used): Float32Array {
    const base = head * this.cap;
    return this.keys[layer]!.subarray((base + from) * this.headDim, (base + to) * this.headDim);
  }

  /** The tokens in use of one layer, head-major without padding [kvHeads, length, headDim] (a copy). */
  compactKeys(layer: number): Float32Array {
    return this.compact(this.keys[layer]!);
  }

  compactValues(layer: number): Float32Array {
    return this.compact(this.values[layer]!);
  }

  /** An independent copy of the tokens in use (e.g. the shared sink, extended per request). */
  clone(extraCapacity = CAPACITY_BLOCK): PlainKvCache {
    const copy = new PlainKvCache(this.numLayers, this.numKvHeads, this.headDim, this.used + extraCapacity);
    copy.used = this.used;
    for (let l = 0; l < this.numLayers; l++) {
      this.relayout(this.keys[l]!, copy.keys[l]!, copy.cap);
      this.relayout(this.values[l]!, copy.values[l]!, copy.cap);
    }
    return copy;
  }

  /** Bytes held for the tokens in use (fp32). */
  get bytes(): number {
    return 2 * this.numLayers * this.used * this.rowSize * 4;
  }

  /** Token-major [tokens, KV, d] rows → head h's stretch from slot `used`. */
  private scatter(rows: Float32Array, into: Float32Array, tokens: number): void {
    const { numKvHeads: KV, headDim: d } = this;
    if (rows.length < tokens * KV * d) throw new Error('internal error: fewer keys/values than tokens');
    for (let h = 0; h < KV; h++) {
      const base = (h * this.cap + this.used) * d;
      for (let t = 0; t < tokens; t++) {
        const from = (t * KV + h) * d;
        into.set(rows.subarray(from, from + d), base + t * d);
      }
    }
  }

  /** Copies the tokens in use of one head-major buffer into another of capacity `cap`. */
  private relayout(from: Float32Array, into: Float32Array, cap: number): void {
    const d = this.headDim;
    for (let h = 0; h < this.numKvHeads; h++) {
      into.set(from.subarray(h * this.cap * d, (h * this.cap + this.used) * d), h * cap * d);
    }
  }

  private compact(buffer: Float32Array): Float32Array {
    const out = new Float32Array(this.used * this.rowSize);
    this.relayout(buffer, out, this.used);
    return out;
  }

  private reserve(tokens: number): void {
    if (tokens <= this.cap) return;
    const cap = Math.ceil(tokens / CAPACITY_BLOCK) * CAPACITY_BLOCK + CAPACITY_BLOCK;
    const grow = (a: Float32Array) => {
      const b = new Float32Array(cap * this.rowSize);
      this.relayout(a, b, cap);
      return b;
    };
    this.keys = this.keys.map(grow);
    this.values = this.values.map(grow);
    this.cap = cap;
  }
}
