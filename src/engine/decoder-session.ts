/**
 * One loaded decoder graph on an execution provider, and the single call the rest of RepoKV makes on it:
 * run a chunk of tokens at given positions over a given past, get logits and the chunk's keys/values back.
 */
import type * as ort from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import type { Checkpoint } from './checkpoint-types';
import { ensureDecoderGraph, type GraphVariant, healDecoderGraph } from './graph-cache';
import { activationsFor } from './activations';
import { operatorsFor } from './graph-operators';
import type { ModelConfig } from './model-config';
import { chunkOnHost, deviceLocations, type DeviceStateChoice, useDeviceState } from './device-outputs';
import { DeviceUploads } from './device-uploads';
import { createSession, type ExecutionProvider, type Logger, type ProviderPreference } from './providers';

/**
 * The past a chunk attends to: per layer, head-major [kvHeads, capacity, headDim] keys and values, of which the
 * first `length` slots of each head are real (src/engine/kv-cache.ts).
 */
export interface PastKv {
  length: number;
  capacity: number;
  keysBuffer(layer: number): Float32Array;
  valuesBuffer(layer: number): Float32Array;
  /** [kvHeads, length, headDim] without padding, for variants whose outputs span the past. */
  compactKeys(layer: number): Float32Array;
  compactValues(layer: number): Float32Array;
}

export interface ForwardInput {
  ids: ArrayLike<number>;
  positions: ArrayLike<number>;
  past: PastKv;
  /** Additive attention bias [T, P+T] (0 or -Infinity); defaults to causal over the chunk, all of the past visible. */
  bias?: Float32Array;
  /** Chunk positions (0-based within the chunk) whose logits are wanted. */
  logitIndex: ArrayLike<number>;
  /** Inputs of graph variants beyond the plain decoder (the compressed repository block), reused across calls. */
  extraFeeds?: Record<string, Tensor>;
}

export interface ForwardOutput {
  /** [N, vocab], rows in `logitIndex` order. */
  logits: Float32Array;
  /** Per layer, the chunk's keys (after rotary) and values, [T, kvHeads, headDim]. */
  keys: Float32Array[];
  values: Float32Array[];
  /** Per layer boundary (0 = embeddings), [T, hidden]: only for the `exposeHiddenStates` variant. */
  hidden?: Float32Array[];
  /** Every output by name, for variants with more outputs (the eviction scorer's inputs). */
  outputs: Record<string, Float32Array>;
}

export const EMPTY_PAST: PastKv = {
  length: 0,
  capacity: 0,
  keysBuffer: () => new Float32Array(0),
  valuesBuffer: () => new Float32Array(0),
  compactKeys: () => new Float32Array(0),
  compactValues: () => new Float32Array(0),
};

/**
 * Widens a [t, p + t] bias to [t, capacity + t]: the slots between the past's length and its capacity hold no
 * token and are masked.
 */
export function padPastBias(bias: Float32Array, t: number, p: number, capacity: number): Float32Array {
  if (capacity === p) return bias;
  const s = p + t;
  const padded = new Float32Array(t * (capacity + t)).fill(-Infinity);
  for (let i = 0; i < t; i++) {
    const row = i * (capacity + t);
    padded.set(bias.subarray(i * s, i * s + p), row);
    padded.set(bias.subarray(i * s + p, (i + 1) * s), row + capacity);
  }
  return padded;
}

/** Causal additive bias for a chunk of `t` tokens after `p` past tokens that are all visible. */
export function causalBias(t: number, p: number): Float32Array {
  const s = p + t;
  const bias = new Float32Array(t * s);
  for (let i = 0; i < t; i++) bias.fill(-Infinity, i * s + p + i + 1, (i + 1) * s);
  return bias;
}

export function int64(values: ArrayLike<number>): Tensor {
  const a = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) a[i] = BigInt(values[i]!);
  return new Tensor('int64', a, [values.length]);
}

export interface SessionOptions {
  provider: ProviderPreference;
  cacheDir: string;
  variant?: GraphVariant;
  /** 'auto': fp16 activations when a GPU provider runs the graph, float32 on the CPU (src/engine/activations.ts). */
  activations?: 'auto';
  /** 'auto': contrib operators for quantized weights or a GPU provider (src/engine/graph-operators.ts). */
  operators?: 'auto';
  log?: Logger;
  /** Always-shown warnings (an explicit GPU provider that fell back to CPU); default: `log`. */
  warn?: Logger;
  threads?: number;
  /** Keep the KV cache and the repository block on the device (src/engine/device-kv.ts); default 'auto'. */
  deviceState?: DeviceStateChoice;
}

export class DecoderSession {
  private constructor(
    readonly config: ModelConfig,
    private readonly session: ort.InferenceSession,
    readonly provider: string,
    readonly providerAttempts: string[],
    readonly variant: GraphVariant,
    /** Inputs uploaded once and reused (the repository block): only for a device-state session. */
    readonly uploads: DeviceUploads | null,
  ) {}

  /** Whether this session runs the device-state graph (full present out, fed back by src/engine/device-kv.ts). */
  get deviceState(): boolean {
    return this.uploads !== null;
  }

  static async create(checkpoint: Checkpoint, options: SessionOptions): Promise<DecoderSession> {
    const log = options.log ?? (() => {});
    const variant = options.variant ?? { exposeHiddenStates: false };
    const warn = options.warn ?? log;
    // The graph depends on the provider tried: fp16 activations on GPU providers (`auto`), and the device-state
    // variant where state stays on the device.
    const device = (p: ExecutionProvider) => useDeviceState(options.deviceState ?? 'auto', p);
    const variantOn = (p: ExecutionProvider) => {
      const a = options.activations === 'auto' ? activationsFor(variant, p) : variant;
      const v = options.operators === 'auto' ? operatorsFor(a, p) : a;
      return device(p) ? { ...v, deviceState: true } : v;
    };
    // The quick check trusts files whose stat has not changed since they were hashed; a graph that still fails to
    // open gets the full check (heal), and one retry if that found (and repaired) damage.
    const choice = await createSession(
      {
        pathFor: (p) => ensureDecoderGraph(checkpoint, variantOn(p), options.cacheDir, log, warn),
        heal: (p) => healDecoderGraph(checkpoint, variantOn(p), options.cacheDir, log, warn),
      },
      options.provider,
      log,
      options.threads,
      {
        cacheDir: options.cacheDir,
        warn,
        outputLocation: (p) => (device(p) ? deviceLocations(checkpoint.config.numLayers) : undefined),
      },
    );
    const onDevice = device(choice.provider);
    if (onDevice) log(`state stays on the device (${choice.provider})`);
    return new DecoderSession(
      checkpoint.config,
      choice.session,
      choice.provider,
      choice.attempts,
      variantOn(choice.provider),
      onDevice ? new DeviceUploads(choice.provider) : null,
    );
  }

  async forward(input: ForwardInput): Promise<ForwardOutput> {
    const { numLayers, numKvHeads, headDim, vocabSize } = this.config;
    const t = input.ids.length;
    const p = input.past.length;
    if (input.positions.length !== t)
      throw new Error(`internal error: ${t} ids but ${input.positions.length} positions`);
    const bias = input.bias ?? causalBias(t, p);
    if (bias.length !== t * (p + t)) throw new Error(`internal error: attention bias must be [${t}, ${p + t}]`);
    // Outputs that span the past (the eviction scorer's, a device-state session's full present) must not include
    // padding: those variants get a compact copy, a cost beside the prefill they run with. Every other variant
    // reads the cache's buffers in place.
    const spansPast = this.variant.scoringWindow !== undefined || this.deviceState;
    const compact = spansPast && input.past.capacity !== p;
    const slots = compact ? p : input.past.capacity;
    const feeds: Record<string, Tensor> = {
      ...input.extraFeeds,
      input_ids: int64(input.ids),
      position_ids: int64(input.positions),
      attention_bias: new Tensor('float32', padPastBias(bias, t, p, slots), [t, slots + t]),
      logit_index: int64(input.logitIndex),
    };
    const dims = [numKvHeads, slots, headDim];
    for (let l = 0; l < numLayers; l++) {
      const keys = compact ? input.past.compactKeys(l) : input.past.keysBuffer(l);
      const values = compact ? input.past.compactValues(l) : input.past.valuesBuffer(l);
      feeds[`past_key.${l}`] = new Tensor('float32', keys, dims);
      feeds[`past_value.${l}`] = new Tensor('float32', values, dims);
    }
    let out = await this.session.run(feeds);
    if (this.deviceState) out = await chunkOnHost(out, p, this.config);
    const data = (name: string) => out[name]!.data as Float32Array;
    const result: ForwardOutput = {
      outputs: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array])),
      logits: data('logits'),
      keys: Array.from({ length: numLayers }, (_, l) => data(`present_key.${l}`)),
      values: Array.from({ length: numLayers }, (_, l) => data(`present_value.${l}`)),
    };
    if (this.variant.exposeHiddenStates) {
      result.hidden = Array.from({ length: numLayers + 1 }, (_, l) => data(`hidden.${l}`));
    }
    if (result.logits.length !== input.logitIndex.length * vocabSize) throw new Error('internal error: logits shape');
    return result;
  }

  /** One run with caller-made feeds, every output fetched (the device-state loop: src/engine/device-kv.ts). */
  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return (await this.session.run(feeds)) as Record<string, Tensor>;
  }

  async release(): Promise<void> {
    await this.uploads?.release();
    await this.session.release();
  }
}
