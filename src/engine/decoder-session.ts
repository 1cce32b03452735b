/**
 * One loaded decoder graph on an execution provider, and the single call the rest of RepoKV makes on it:
 * run a chunk of tokens at given positions over a given past, get logits and the chunk's keys/values back.
 */
import type * as ort from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import type { Checkpoint } from './checkpoint-types';
import { ensureDecoderGraph, type GraphVariant, healDecoderGraph } from './graph-cache';
import type { ModelConfig } from './model-config';
import { chunkOnHost, deviceLocations, type DeviceStateChoice, useDeviceState } from './device-outputs';
import { DeviceUploads } from './device-uploads';
import { createSession, type Logger, type ProviderPreference } from './providers';

/** The past a chunk attends to: per layer, token-major [P, kvHeads, headDim] keys and values. */
export interface PastKv {
  length: number;
  keysView(layer: number): Float32Array;
  valuesView(layer: number): Float32Array;
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
  keysView: () => new Float32Array(0),
  valuesView: () => new Float32Array(0),
};

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
    // The graph depends on the provider tried: the device-state variant where state stays on the device.
    const device = (p: 'cuda' | 'webgpu' | 'cpu') => useDeviceState(options.deviceState ?? 'auto', p);
    const deviceVariant = { ...variant, deviceState: true };
    const variantFor = (p: 'cuda' | 'webgpu' | 'cpu') => (device(p) ? deviceVariant : variant);
    const tried = new Set<GraphVariant>();
    const modelPath = (p: 'cuda' | 'webgpu' | 'cpu') => {
      tried.add(variantFor(p));
      return ensureDecoderGraph(checkpoint, variantFor(p), options.cacheDir, log, warn);
    };
    const outputLocation = (p: 'cuda' | 'webgpu' | 'cpu') =>
      device(p) ? deviceLocations(checkpoint.config.numLayers) : undefined;
    const open = () =>
      createSession(modelPath, options.provider, log, options.threads, {
        cacheDir: options.cacheDir,
        warn,
        outputLocation,
      });
    let choice;
    try {
      choice = await open();
    } catch (err) {
      // The quick check trusts files whose stat has not changed since they were hashed; a graph that still fails
      // to open gets the full check, and one retry if that found (and repaired) damage.
      const healed = [...tried].map((v) => healDecoderGraph(checkpoint, v, options.cacheDir, log, warn));
      if (!healed.includes(true)) throw err;
      choice = await open();
    }
    const onDevice = device(choice.provider);
    if (onDevice) log(`state stays on the device (${choice.provider})`);
    return new DecoderSession(
      checkpoint.config,
      choice.session,
      choice.provider,
      choice.attempts,
      variantFor(choice.provider),
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
    const feeds: Record<string, Tensor> = {
      ...input.extraFeeds,
      input_ids: int64(input.ids),
      position_ids: int64(input.positions),
      attention_bias: new Tensor('float32', bias, [t, p + t]),
      logit_index: int64(input.logitIndex),
    };
    for (let l = 0; l < numLayers; l++) {
      feeds[`past_key.${l}`] = new Tensor('float32', input.past.keysView(l), [p, numKvHeads, headDim]);
      feeds[`past_value.${l}`] = new Tensor('float32', input.past.valuesView(l), [p, numKvHeads, headDim]);
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
