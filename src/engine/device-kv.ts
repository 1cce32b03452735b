/**
 * The KV cache as device tensors (issue 11, "state stays on the device"). A session of the device-state graph
 * variant returns the full present per layer (kernels/device-state.ts); those tensors are fed back as the next
 * step's past without ever being read on the host, so on a GPU provider nothing but the logits, or with greedy
 * decoding only the chosen token, crosses to the host per step. The host cache a run starts from (the sink, a
 * resumed prompt) goes up with the first step; `writeBack` brings the result down once, when a caller keeps a
 * host cache. A caller that keeps the `DeviceKv` itself (the repository cache's local reuse between keystrokes)
 * moves nothing: `truncate` cuts it on the device before its next step.
 * When it is used, and what the session's outputs look like: src/engine/device-outputs.ts.
 */
import { Tensor } from 'onnxruntime-node';
import { PRESENT_LAYOUT } from '../../kernels/device-state';
import { causalBias, type DecoderSession, int64, type PastKv } from './decoder-session';
import type { PlainKvCache } from './kv-cache';

/** What a step hands back: the last row's logits, or (greedy in the graph) only its token. */
export type StepResult = { logits: Float32Array; token?: undefined } | { token: number; logits?: undefined };

export class DeviceKv {
  private keys: Tensor[];
  private values: Tensor[];
  private used: number;
  /** Tokens to keep when the next step runs (`truncate`); `used` until then. */
  private keep: number;
  private readonly initial: number;

  constructor(
    readonly session: DecoderSession,
    start: PastKv,
  ) {
    if (!session.deviceState) throw new Error('internal error: device KV needs a device-state session');
    const { numLayers, numKvHeads, headDim } = session.config;
    const dims = PRESENT_LAYOUT.dims(start.length, numKvHeads, headDim) as number[];
    this.keys = Array.from({ length: numLayers }, (_, l) => new Tensor('float32', start.compactKeys(l), dims));
    this.values = Array.from({ length: numLayers }, (_, l) => new Tensor('float32', start.compactValues(l), dims));
    this.used = this.keep = this.initial = start.length;
  }

  get length(): number {
    return this.keep;
  }

  /** Forgets everything after the first `tokens` tokens; the device tensors are cut when the next step runs. */
  truncate(tokens: number): void {
    if (tokens < 0 || tokens > this.keep) throw new RangeError(`cannot truncate a cache of ${this.keep} to ${tokens}`);
    if (tokens < this.initial) throw new Error('internal error: truncating a device cache into its starting past');
    this.keep = tokens;
  }

  /**
   * Runs `ids` at `positions` over the past (with `extraFeeds`: the repository block), keeps the present, and
   * returns the last row's logits or token.
   */
  async step(
    ids: ArrayLike<number>,
    positions: ArrayLike<number>,
    want: 'logits' | 'token',
    extraFeeds: Record<string, Tensor> = {},
  ): Promise<StepResult> {
    const { numLayers } = this.session.config;
    const t = ids.length;
    if (this.keep < this.used) await this.cut();
    const feeds: Record<string, Tensor> = {
      ...extraFeeds,
      input_ids: int64(ids),
      position_ids: int64(positions),
      attention_bias: new Tensor('float32', causalBias(t, this.used), [t, this.used + t]),
      logit_index: int64([t - 1]),
    };
    for (let l = 0; l < numLayers; l++) {
      feeds[`past_key.${l}`] = this.keys[l]!;
      feeds[`past_value.${l}`] = this.values[l]!;
    }
    const out = await this.session.run(feeds);
    // The previous past is no longer needed once the step that read it has finished: free its device memory.
    // (The starting tensors wrap the caller's host cache; disposing them only drops the wrappers.)
    this.disposeAll();
    this.keys = Array.from({ length: numLayers }, (_, l) => out[`present_key.${l}`]!);
    this.values = Array.from({ length: numLayers }, (_, l) => out[`present_value.${l}`]!);
    this.used += t;
    this.keep = this.used;
    const logits = out.logits!;
    if (want === 'token') {
      logits.dispose();
      return { token: Number((out.next_token!.data as BigInt64Array)[0]) };
    }
    // getData(true) moves a device tensor's data to the host and releases the device buffer.
    return { logits: (await logits.getData(true)) as Float32Array };
  }

  private async cut(): Promise<void> {
    const uploads = this.session.uploads!;
    const n = this.keys.length;
    const cut = await uploads.truncate([...this.keys, ...this.values], this.keep);
    this.disposeAll();
    this.keys = cut.slice(0, n);
    this.values = cut.slice(n);
    this.used = this.keep;
  }

  /** Appends what this run added (everything after the starting past) to `cache`, which must hold the start. */
  async writeBack(cache: PlainKvCache): Promise<void> {
    if (cache.length !== this.initial) throw new Error('internal error: write-back into a cache that has changed');
    if (this.keep < this.used) await this.cut();
    const { numLayers, numKvHeads, headDim } = this.session.config;
    const added = this.used - this.initial;
    if (added === 0) return;
    const tail = async (t: Tensor) =>
      PRESENT_LAYOUT.rowsFrom((await t.getData()) as Float32Array, this.initial, numKvHeads, headDim);
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let l = 0; l < numLayers; l++) {
      keys.push(await tail(this.keys[l]!));
      values.push(await tail(this.values[l]!));
    }
    cache.append(keys, values, added);
  }

  dispose(): void {
    this.disposeAll();
    this.keys = [];
    this.values = [];
  }

  private disposeAll(): void {
    for (const t of this.keys) t.dispose();
    for (const t of this.values) t.dispose();
  }
}
