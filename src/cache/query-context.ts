/**
 * A query over the repository cache: the shared sink and the current file at full precision, the selected
 * segments as the compressed block, all attended by one compressed-attention graph. Built once per request and
 * reused for every prefill chunk and decode step of it.
 */
import { Tensor } from 'onnxruntime-node';
import type { DecoderSession } from '../engine/decoder-session';
import { DeviceKv } from '../engine/device-kv';
import { generate, type Detokenizer, type GenerateOptions, type GenerateResult } from '../engine/generate';
import type { PlainKvCache } from '../engine/kv-cache';
import type { KvState, Resume } from './local-reuse';
import type { RepositoryBlock } from './repository-block';

export interface QueryContext {
  /** A session of the compressed-attention graph variant. */
  session: DecoderSession;
  /** The sink's keys and values (positions 0..S-1); cloned per request, never modified. */
  sink: PlainKvCache;
  block: RepositoryBlock;
  /** Position of the first local token: after the longest segment in the parallel layout. */
  firstPosition: number;
  /** APE temperature on the attention to repository segments (1 = off). */
  apeTemperature: number;
  /**
   * The selected segments, compared by identity: while it is the same, a device-state session reuses the block
   * it uploaded (src/engine/device-uploads.ts). Absent: uploaded for every request.
   */
  selection?: readonly unknown[];
}

function feedsOf(ctx: QueryContext): Record<string, Tensor> {
  return {
    ...ctx.block.feeds,
    ape_inverse_temperature: new Tensor('float32', Float32Array.of(1 / ctx.apeTemperature), [1]),
  };
}

/** The block's feeds as the session wants them: host tensors, or device copies uploaded once per selection. */
async function blockFeeds(ctx: QueryContext): Promise<Record<string, Tensor>> {
  const uploads = ctx.session.uploads;
  if (!uploads) return feedsOf(ctx);
  return uploads.get([ctx.apeTemperature, ...(ctx.selection ?? [ctx.block])], () => feedsOf(ctx));
}

/**
 * Generates after `promptIds`. With `resume` (a cache already holding the sink and the first `resume.reused`
 * prompt tokens, computed over this same block) only the rest of the prompt is prefilled. The cache used is
 * `resume.cache` or a fresh one holding the sink (on the device for a device-state session); it is returned so the
 * caller can keep it for the next request.
 */
export async function generateInContext(
  ctx: QueryContext,
  detokenizer: Detokenizer,
  promptIds: number[],
  options: GenerateOptions,
  resume: Resume | null = null,
): Promise<GenerateResult & { cache: KvState }> {
  const reused = resume?.reused ?? 0;
  if (reused >= promptIds.length) throw new Error('internal error: a resumed prompt must leave a token to prefill');
  // A device-state session keeps the request's state on the device, sink included (it goes up with the first
  // step), so the next keystroke resumes there; otherwise a host clone of the sink.
  const cache =
    resume?.cache ??
    (ctx.session.deviceState
      ? new DeviceKv(ctx.session, ctx.sink)
      : ctx.sink.clone(promptIds.length + options.maxTokens + 1));
  const result = await generate(
    ctx.session,
    detokenizer,
    promptIds.slice(reused),
    { ...options, firstPosition: ctx.firstPosition + reused, extraFeeds: await blockFeeds(ctx) },
    cache,
  );
  return { ...result, promptTokens: promptIds.length, cache };
}

/**
 * Teacher-forced log-probabilities: runs `contextIds` then `targetIds` and returns, for every target token, the
 * full next-token logits that predicted it ([targets, vocab]), from which NLL and KL divergence are computed.
 */
export async function targetLogits(
  ctx: QueryContext,
  contextIds: number[],
  targetIds: number[],
): Promise<Float32Array> {
  if (contextIds.length === 0) throw new Error('targetLogits needs at least one context token');
  const ids = [...contextIds, ...targetIds];
  const cache = ctx.sink.clone(ids.length);
  const out = await ctx.session.forward({
    ids,
    positions: ids.map((_, i) => ctx.firstPosition + i),
    past: cache,
    logitIndex: targetIds.map((_, i) => contextIds.length - 1 + i),
    extraFeeds: feedsOf(ctx),
  });
  return out.logits;
}
