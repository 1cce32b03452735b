/**
 * The sink: the first tokens of the shared prefix (`<|repo_name|>name\n` for Qwen2.5-Coder), prefilled once at
 * positions 0..S-1 and kept at full precision. Every segment is prefilled after it and every query attends to
 * it, so attention mass that has nowhere else to go lands on the same tokens it always did (StreamingLLM).
 */
import type { DecoderSession } from '../engine/decoder-session';
import { prefill } from '../engine/generate';
import { PlainKvCache } from '../engine/kv-cache';

export function sinkIds(prefixIds: number[], sinkTokens: number): number[] {
  return prefixIds.slice(0, Math.max(0, sinkTokens));
}

export async function prefillSink(session: DecoderSession, ids: number[]): Promise<PlainKvCache> {
  const { numLayers, numKvHeads, headDim } = session.config;
  const cache = new PlainKvCache(numLayers, numKvHeads, headDim, Math.max(1, ids.length));
  if (ids.length > 0) await prefill(session, cache, ids, { firstPosition: 0 });
  return cache;
}
