/**
 * Text generation over a decoder session: chunked prefill of the prompt, then one token at a time over the
 * growing cache. Streams text as it becomes final, stops at stop tokens or stop strings, and stops within one
 * step when its AbortSignal fires (a keystroke cancels a completion).
 */
import type { Tensor } from 'onnxruntime-node';
import { type DecoderSession, EMPTY_PAST } from './decoder-session';
import { DeviceKv, type StepResult } from './device-kv';
import type { LogitConstraint } from './logit-constraint';
import { PlainKvCache } from './kv-cache';
import { Sampler } from './sampling';

export interface StreamDecoder {
  push(id: number): string;
  flush(): string;
}

export interface Detokenizer {
  createStreamDecoder(): StreamDecoder;
}

export interface GenerateOptions {
  maxTokens: number;
  /** 0 = greedy (the default). */
  temperature?: number;
  topP?: number;
  seed?: number;
  stopTokenIds?: Iterable<number>;
  stopStrings?: string[];
  /** Called with each new piece of final text (never text past a stop string). */
  onText?: (delta: string) => void;
  signal?: AbortSignal;
  /** Prompt tokens per prefill call; long prompts are split so memory stays bounded. */
  prefillChunk?: number;
  /** Position of the first prompt token (default: the cache's length; the repository layout places it further). */
  firstPosition?: number;
  /** Extra graph inputs for every call: the compressed repository block. */
  extraFeeds?: Record<string, Tensor>;
  /** Restricts the tokens that may come next (token healing at an indented cursor); applied before sampling. */
  constraint?: LogitConstraint;
}

export type StopReason = 'stop-token' | 'stop-string' | 'max-tokens' | 'aborted';

export interface GenerateResult {
  text: string;
  tokenIds: number[];
  promptTokens: number;
  stopReason: StopReason;
  prefillMs: number;
  decodeMs: number;
}

export const DEFAULT_PREFILL_CHUNK = 512;

/** Runs `ids` through the session in chunks, appending to `cache`; returns the last position's logits. */
export async function prefill(
  session: DecoderSession,
  cache: PlainKvCache,
  ids: number[],
  options: { chunk?: number; signal?: AbortSignal; firstPosition?: number; extraFeeds?: Record<string, Tensor> } = {},
): Promise<Float32Array | null> {
  const chunk = Math.max(1, options.chunk ?? DEFAULT_PREFILL_CHUNK);
  const first = options.firstPosition ?? cache.length;
  let logits: Float32Array | null = null;
  for (let start = 0; start < ids.length; start += chunk) {
    if (options.signal?.aborted) return null;
    const part = ids.slice(start, start + chunk);
    const positions = part.map((_, i) => first + start + i);
    const out = await session.forward({
      ids: part,
      positions,
      past: cache,
      logitIndex: [part.length - 1],
      extraFeeds: options.extraFeeds,
    });
    cache.append(out.keys, out.values, part.length);
    logits = out.logits;
  }
  return logits;
}

/** Holds back text that might still turn into a stop string, and cuts at the first one that appears. */
class StopStringFilter {
  private text = '';
  private emitted = 0;
  private readonly holdBack: number;

  constructor(private readonly stops: string[]) {
    this.holdBack = Math.max(0, ...stops.map((s) => s.length - 1));
  }

  /** Adds decoded text; returns the newly final text and whether a stop string was reached. */
  push(piece: string): { delta: string; stopped: boolean } {
    this.text += piece;
    let cut = -1;
    for (const s of this.stops) {
      const at = this.text.indexOf(s, Math.max(0, this.emitted - s.length + 1));
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.text = this.text.slice(0, cut);
      return { delta: this.take(this.text.length), stopped: true };
    }
    return { delta: this.take(Math.max(this.emitted, this.text.length - this.holdBack)), stopped: false };
  }

  finish(): string {
    return this.take(this.text.length);
  }

  get result(): string {
    return this.text;
  }

  private take(upTo: number): string {
    const delta = this.text.slice(this.emitted, upTo);
    this.emitted = Math.max(this.emitted, upTo);
    return delta;
  }
}

export async function generate(
  session: DecoderSession,
  detokenizer: Detokenizer,
  promptIds: number[],
  options: GenerateOptions,
  /**
   * The past to continue from, and where the run's keys and values go. On a device-state session
   * (src/engine/device-kv.ts) a host cache is uploaded once and brought up to date once, at the end; a `DeviceKv`
   * is continued on the device and left to the caller; a run without one starts empty and reads nothing back.
   */
  cache?: PlainKvCache | DeviceKv,
): Promise<GenerateResult> {
  if (promptIds.length === 0) throw new Error('cannot generate from an empty prompt');
  const started = performance.now();
  const sampler = new Sampler({
    temperature: options.temperature ?? 0,
    topP: options.topP ?? 1,
    seed: options.seed ?? 0,
  });
  const stopIds = new Set(options.stopTokenIds ?? []);
  const stream = detokenizer.createStreamDecoder();
  const filter = new StopStringFilter(options.stopStrings?.filter((s) => s.length > 0) ?? []);
  const emit = (delta: string) => delta && options.onText?.(delta);
  const tokenIds: number[] = [];
  let steps: Steps;
  if (session.deviceState) steps = deviceSteps(session, cache, options);
  else if (cache instanceof DeviceKv) throw new Error('internal error: device state passed to a host-path session');
  else {
    const { numLayers, numKvHeads, headDim } = session.config;
    steps = hostSteps(session, cache ?? new PlainKvCache(numLayers, numKvHeads, headDim), options);
  }
  const finish = async (stopReason: StopReason, decodeStart: number): Promise<GenerateResult> => {
    await steps.finish();
    if (stopReason !== 'stop-string') emit(filter.push(stream.flush()).delta + filter.finish());
    return {
      text: filter.result,
      tokenIds,
      promptTokens: promptIds.length,
      stopReason,
      prefillMs: decodeStart - started,
      decodeMs: performance.now() - decodeStart,
    };
  };

  let position = options.firstPosition ?? steps.length;
  let next = await steps.prefill(promptIds, position);
  position += promptIds.length;
  const decodeStart = performance.now();
  if (!next) return finish('aborted', decodeStart);
  for (let step = 0; step < options.maxTokens; step++) {
    let id: number;
    if (next.token !== undefined) id = next.token;
    else {
      options.constraint?.mask(next.logits);
      id = sampler.next(next.logits);
    }
    options.constraint?.accept(id);
    if (stopIds.has(id)) return finish('stop-token', decodeStart);
    tokenIds.push(id);
    const { delta, stopped } = filter.push(stream.push(id));
    emit(delta);
    if (stopped) return finish('stop-string', decodeStart);
    if (step === options.maxTokens - 1) break;
    if (options.signal?.aborted) return finish('aborted', decodeStart);
    next = await steps.step(id, position++);
  }
  return finish('max-tokens', decodeStart);
}

/** How generation advances one session's state: on the host (PlainKvCache) or on the device (DeviceKv). */
interface Steps {
  readonly length: number;
  /** The prompt in chunks; the last position's logits (or token), or null when aborted. */
  prefill(ids: number[], firstPosition: number): Promise<StepResult | null>;
  step(id: number, position: number): Promise<StepResult>;
  /** Called once at the end: brings a device run's state into the caller's cache and frees the device's. */
  finish(): Promise<void>;
}

function hostSteps(session: DecoderSession, cache: PlainKvCache, options: GenerateOptions): Steps {
  return {
    get length() {
      return cache.length;
    },
    prefill: async (ids, firstPosition) => {
      const logits = await prefill(session, cache, ids, {
        chunk: options.prefillChunk,
        signal: options.signal,
        firstPosition,
        extraFeeds: options.extraFeeds,
      });
      return logits && { logits };
    },
    step: async (id, position) => {
      const out = await session.forward({
        ids: [id],
        positions: [position],
        past: cache,
        logitIndex: [0],
        extraFeeds: options.extraFeeds,
      });
      cache.append(out.keys, out.values, 1);
      return { logits: out.logits };
    },
    finish: async () => {},
  };
}

function deviceSteps(
  session: DecoderSession,
  cache: PlainKvCache | DeviceKv | undefined,
  options: GenerateOptions,
): Steps {
  const owned = !(cache instanceof DeviceKv);
  const kv = cache instanceof DeviceKv ? cache : new DeviceKv(session, cache ?? EMPTY_PAST);
  const extra = options.extraFeeds;
  // Greedy without a constraint needs only the argmax, which the graph computes: the logits stay on the device.
  const want = !((options.temperature ?? 0) > 0) && !options.constraint ? 'token' : 'logits';
  return {
    get length() {
      return kv.length;
    },
    prefill: async (ids, firstPosition) => {
      const chunk = Math.max(1, options.prefillChunk ?? DEFAULT_PREFILL_CHUNK);
      let result: StepResult | null = null;
      for (let start = 0; start < ids.length; start += chunk) {
        if (options.signal?.aborted) return null;
        const part = ids.slice(start, start + chunk);
        const last = start + chunk >= ids.length;
        // Only the last chunk's answer is used: earlier chunks bring back just their token, not their logits.
        result = await kv.step(
          part,
          part.map((_, i) => firstPosition + start + i),
          last ? want : 'token',
          extra,
        );
      }
      return result;
    },
    step: (id, position) => kv.step([id], [position], want, extra),
    finish: async () => {
      if (!owned) return;
      if (cache) await kv.writeBack(cache as PlainKvCache);
      kv.dispose();
    },
  };
}
