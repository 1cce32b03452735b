/**
 * `bench device-state`: greedy generation with state on the device (src/engine/device-kv.ts) against the host
 * path, on one provider, interleaved run by run (both engines loaded first; run r measures the host engine, then
 * the device one) so that load drifting on a shared machine affects both alike. Each figure is a median over runs;
 * `decodeRatio` is the median of the per-run ratios device ÷ host of decode tokens/s.
 */
import type { WeightBits } from '../kernels/weight-quant';
import { Engine } from '../src/engine/engine';
import { generate } from '../src/engine/generate';
import type { ProviderPreference } from '../src/engine/providers';
import { seededRandom } from '../src/engine/sampling';
import { median } from './stats';

export interface DeviceStateBenchOptions {
  model?: string;
  provider: ProviderPreference;
  weightBits?: WeightBits;
  contextTokens: number;
  tokens: number;
  runs: number;
  threads?: number;
}

export interface DeviceStatePathRow {
  path: 'host' | 'device';
  /** The provider that ran (an explicit GPU choice may have fallen back to the CPU). */
  provider: string;
  prefillMs: number;
  decodeTokensPerSec: number;
  totalMs: number;
}

export interface DeviceStateBenchResult {
  contextTokens: number;
  tokens: number;
  runs: number;
  rows: DeviceStatePathRow[];
  decodeRatio: number;
  /** Whether both paths produced the same tokens in every run. */
  sameTokens: boolean;
}

interface Sample {
  prefillMs: number;
  tps: number;
  ms: number;
}

export async function benchDeviceState(options: DeviceStateBenchOptions): Promise<DeviceStateBenchResult> {
  const load = (deviceState: 'on' | 'off') =>
    Engine.load({
      modelDir: options.model,
      provider: options.provider,
      weightBits: options.weightBits,
      threads: options.threads,
      deviceState,
    });
  const engines = { host: await load('off'), device: await load('on') };
  try {
    const c = engines.host.config;
    const random = seededRandom(3);
    const ids = Array.from({ length: options.contextTokens }, () => 10 + Math.floor(random() * (c.vocabSize - 100)));
    // No stop tokens: every run generates exactly `tokens` tokens.
    const run = (e: Engine) => generate(e.session, e.tokenizer, ids, { maxTokens: options.tokens, stopTokenIds: [] });
    await run(engines.host); // warm-up (and, on a GPU, shader builds)
    await run(engines.device);
    const samples: Record<'host' | 'device', Sample[]> = { host: [], device: [] };
    const ratios: number[] = [];
    let sameTokens = true;
    for (let r = 0; r < options.runs; r++) {
      const out: Record<'host' | 'device', number[]> = { host: [], device: [] };
      for (const path of ['host', 'device'] as const) {
        const g = await run(engines[path]);
        // Tokens after the first, which the prefill's logits choose.
        const tps = (g.tokenIds.length - 1) / (g.decodeMs / 1000);
        samples[path].push({ prefillMs: g.prefillMs, tps, ms: g.prefillMs + g.decodeMs });
        out[path] = g.tokenIds;
      }
      sameTokens &&= out.host.join() === out.device.join();
      ratios.push(samples.device.at(-1)!.tps / samples.host.at(-1)!.tps);
    }
    const row = (path: 'host' | 'device'): DeviceStatePathRow => ({
      path,
      provider: engines[path].session.provider,
      prefillMs: median(samples[path].map((s) => s.prefillMs)),
      decodeTokensPerSec: median(samples[path].map((s) => s.tps)),
      totalMs: median(samples[path].map((s) => s.ms)),
    });
    return {
      contextTokens: options.contextTokens,
      tokens: options.tokens,
      runs: options.runs,
      rows: [row('host'), row('device')],
      decodeRatio: median(ratios),
      sameTokens,
    };
  } finally {
    await engines.host.dispose();
    await engines.device.dispose();
  }
}
