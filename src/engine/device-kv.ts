/**
 * The KV cache as device tensors (issue 11, "state stays on the device"). A session of the device-state graph
 * variant returns the full present per layer (kernels/device-state.ts); those tensors are fed back as the next
 * step's past without ever being read on the host, so on a GPU provider nothing but the logits, or with greedy
 * decoding only the chosen token, crosses to the host per step. The host cache a run starts from (the sink, a
 * resumed prompt) goes up with the first step; `writeBack` brings the result down once, when a caller keeps it.
 *
 * Chosen per provider: on WebGPU by default (onnxruntime-node's 'gpu-buffer' outputs are WebGPU buffers; a CUDA
 * output would be read back anyway), on the CPU only when forced (tests, benchmarks), since there the host path
 * appends rows in place while this one copies the whole present out of every step.
 */
import { Tensor } from 'onnxruntime-node';
import { PRESENT_LAYOUT } from '../../kernels/device-state';
import { causalBias, type DecoderSession, int64, type PastKv } from './decoder-session';
import type { PlainKvCache } from './kv-cache';
import type { ExecutionProvider } from './providers';

/** 'auto': on for WebGPU; 'on' forces it (also on the CPU); 'off' keeps the host path everywhere. */
export type DeviceStateChoice = 'auto' | 'on' | 'off';

/**
 * REPOKV_DEVICE_STATE=auto|on|off: the choice for commands that have no option of their own (the CLI, the GPU
 * measurement script comparing both paths); unset = undefined (the caller's default).
 */
export function deviceStateFromEnv(value = process.env.REPOKV_DEVICE_STATE): DeviceStateChoice | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'auto' || value === 'on' || value === 'off') return value;
  throw new Error(`REPOKV_DEVICE_STATE must be auto, on or off (got "${value}")`);
}

export function useDeviceState(choice: DeviceStateChoice, provider: ExecutionProvider): boolean {
  return choice === 'on' || (choice === 'auto' && provider === 'webgpu');
}

/**
 * Output locations of a device-state session: the present and the logits stay on the device, the chosen token
 * comes to the host. Every run fetches every output: onnxruntime-node 1.30 keeps one IO binding per session once
 * preferredOutputLocation is set, and a run fetching another subset of outputs than the one before fails
 * ("Output count mismatch") or hands values back under the wrong names. Logits left on the device cost nothing
 * unless they are read (sampling, a logit constraint).
 */
export function deviceLocations(numLayers: number): Record<string, 'gpu-buffer' | 'cpu'> {
  const out: Record<string, 'gpu-buffer' | 'cpu'> = { logits: 'gpu-buffer', next_token: 'cpu' };
  for (let l = 0; l < numLayers; l++) {
    out[`present_key.${l}`] = 'gpu-buffer';
    out[`present_value.${l}`] = 'gpu-buffer';
  }
  return out;
}

/**
 * For `DecoderSession.forward` on a device-state session (the sink's prefill, evaluation: callers that keep a
 * host cache): every output brought to the host, the present cut to the chunk's own rows as the plain graph
 * returns them. It costs a read of the whole present, so generation uses `DeviceKv` instead.
 */
export async function chunkOnHost(
  out: Record<string, Tensor>,
  pastLength: number,
  config: { numKvHeads: number; headDim: number },
): Promise<Record<string, Tensor>> {
  const row = config.numKvHeads * config.headDim;
  const result: Record<string, Tensor> = { ...out };
  for (const [name, t] of Object.entries(out)) {
    if (!name.startsWith('present_')) {
      if (t.location !== 'cpu') result[name] = new Tensor(t.type, await t.getData(true), t.dims);
      continue;
    }
    const all = (await t.getData()) as Float32Array;
    const tokens = all.length / row - pastLength;
    const rows = PRESENT_LAYOUT.rowsFrom(all, pastLength, config.numKvHeads, config.headDim);
    result[name] = new Tensor('float32', rows, [tokens, config.numKvHeads, config.headDim]);
    t.dispose();
  }
  return result;
}

/** What a step hands back: the last row's logits, or (greedy in the graph) only its token. */
export type StepResult = { logits: Float32Array; token?: undefined } | { token: number; logits?: undefined };

export class DeviceKv {
  private keys: Tensor[];
  private values: Tensor[];
  private used: number;
  private readonly initial: number;

  constructor(
    private readonly session: DecoderSession,
    start: PastKv,
    private readonly extraFeeds: Record<string, Tensor> = {},
  ) {
    if (!session.deviceState) throw new Error('internal error: device KV needs a device-state session');
    const { numLayers, numKvHeads, headDim } = session.config;
    const dims = PRESENT_LAYOUT.dims(start.length, numKvHeads, headDim) as number[];
    this.keys = Array.from({ length: numLayers }, (_, l) => new Tensor('float32', start.keysView(l), dims));
    this.values = Array.from({ length: numLayers }, (_, l) => new Tensor('float32', start.valuesView(l), dims));
    this.used = this.initial = start.length;
  }

  get length(): number {
    return this.used;
  }

  /** Runs `ids` at `positions` over the past, keeps the present, and returns the last row's logits or token. */
  async step(ids: ArrayLike<number>, positions: ArrayLike<number>, want: 'logits' | 'token'): Promise<StepResult> {
    const { numLayers } = this.session.config;
    const t = ids.length;
    const feeds: Record<string, Tensor> = {
      ...this.extraFeeds,
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
    const logits = out.logits!;
    if (want === 'token') {
      logits.dispose();
      return { token: Number((out.next_token!.data as BigInt64Array)[0]) };
    }
    // getData(true) moves a device tensor's data to the host and releases the device buffer.
    return { logits: (await logits.getData(true)) as Float32Array };
  }

  /** Appends what this run added (everything after the starting past) to `cache`, which must hold the start. */
  async writeBack(cache: PlainKvCache): Promise<void> {
    if (cache.length !== this.initial) throw new Error('internal error: write-back into a cache that has changed');
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
