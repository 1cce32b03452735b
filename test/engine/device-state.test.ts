/**
 * State that stays on the device (issue 11), forced on the CPU provider: the device-state graph and loop give the
 * host path's greedy continuations token for token, and the past is never read back to the host in the loop.
 */
import { Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DecoderSession } from '../../src/engine/decoder-session';
import { Engine } from '../../src/engine/engine';
import { deviceStateFromEnv, useDeviceState } from '../../src/engine/device-outputs';
import { generate } from '../../src/engine/generate';
import { PlainKvCache } from '../../src/engine/kv-cache';
import { CODER_MODEL, TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

const PROMPT =
  'export function fibonacci(n: number): number {\n  if (n < 2) return n;\n  return fibonacci(n - 1) + fibonacci(n - 2);\n}\n\nexport function factorial(';

/**
 * Counts host reads of the present tensors a session hands back, outside the session's own runs (where the
 * binding reads a CPU tensor's data to feed it: on a GPU that data would never exist on the host).
 */
function countPresentReads(session: DecoderSession): { reads: number } {
  const counter = { reads: 0 };
  const inner = (session as unknown as { session: { run: (...a: unknown[]) => Promise<Record<string, Tensor>> } })
    .session;
  const run = inner.run.bind(inner);
  let inRun = false;
  inner.run = async (...args: unknown[]) => {
    inRun = true;
    try {
      const out = await run(...args);
      for (const [name, t] of Object.entries(out)) {
        if (!name.startsWith('present_')) continue;
        const data = t.data;
        Object.defineProperty(t, 'data', {
          get: () => {
            if (!inRun) counter.reads++;
            return data;
          },
        });
        t.getData = async () => {
          if (!inRun) counter.reads++;
          return data;
        };
      }
      return out;
    } finally {
      inRun = false;
    }
  };
  return counter;
}

describe('device state choice', () => {
  it('is on for WebGPU by default, forced by "on", never with "off"; the variable is checked', () => {
    expect(useDeviceState('auto', 'webgpu')).toBe(true);
    expect(useDeviceState('auto', 'cpu')).toBe(false);
    expect(useDeviceState('auto', 'cuda')).toBe(false); // no device-located outputs for CUDA in onnxruntime-node
    expect(useDeviceState('on', 'cpu')).toBe(true);
    expect(useDeviceState('off', 'webgpu')).toBe(false);
    expect(deviceStateFromEnv(undefined)).toBeUndefined();
    expect(deviceStateFromEnv('off')).toBe('off');
    expect(() => deviceStateFromEnv('yes')).toThrow(/REPOKV_DEVICE_STATE must be auto, on or off \(got "yes"\)/);
  });
});

describe.each([
  ['tiny-coder', TINY_MODEL],
  ['coder-15m', CODER_MODEL],
])('device state on %s (forced on the CPU)', (_name, modelDir) => {
  let host: Engine;
  let device: Engine;
  beforeAll(async () => {
    host = await Engine.load({ modelDir, provider: 'cpu', cacheDir: TEST_CACHE_DIR, deviceState: 'off' });
    device = await Engine.load({ modelDir, provider: 'cpu', cacheDir: TEST_CACHE_DIR, deviceState: 'on' });
  });
  afterAll(async () => {
    await host?.dispose();
    await device?.dispose();
  });

  it('chooses the graphs it was told to', () => {
    expect(host.session.deviceState).toBe(false);
    expect(device.session.deviceState).toBe(true);
    expect(device.session.variant.deviceState).toBe(true);
  });

  it('greedy generate equals the host path, in prompt chunks too, and reads no past back', async () => {
    const ids = host.encode(PROMPT);
    const options = { maxTokens: 24, prefillChunk: 16 };
    const reference = await generate(host.session, host.tokenizer, ids, options);
    const reads = countPresentReads(device.session);
    const onDevice = await generate(device.session, device.tokenizer, ids, options);
    expect(onDevice.tokenIds).toEqual(reference.tokenIds);
    expect(onDevice.tokenIds.length).toBe(24);
    expect(reads.reads).toBe(0);
    // The same counter on the host path sees the chunk keys read every step: the check can fail.
    const hostReads = countPresentReads(host.session);
    await generate(host.session, host.tokenizer, ids, options);
    expect(hostReads.reads).toBeGreaterThan(24);
  });

  it('sampled generate (logits to the host) equals the host path, and a passed cache is brought up to date', async () => {
    const ids = host.encode(PROMPT);
    const options = { maxTokens: 12, temperature: 0.8, topP: 0.9, seed: 7 };
    const { numLayers, numKvHeads, headDim } = host.config;
    const hostCache = new PlainKvCache(numLayers, numKvHeads, headDim);
    const deviceCache = new PlainKvCache(numLayers, numKvHeads, headDim);
    const reference = await generate(host.session, host.tokenizer, ids, options, hostCache);
    const onDevice = await generate(device.session, device.tokenizer, ids, options, deviceCache);
    expect(onDevice.tokenIds).toEqual(reference.tokenIds);
    expect(deviceCache.length).toBe(hostCache.length);
    for (let l = 0; l < numLayers; l++) {
      const a = deviceCache.compactKeys(l);
      const b = hostCache.compactKeys(l);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      expect(worst).toBeLessThan(1e-4);
    }
  });

  it('forward on a device-state session returns the chunk rows as the plain graph does, over a past too', async () => {
    const ids = host.encode(PROMPT).slice(0, 10);
    const { numLayers, numKvHeads, headDim } = host.config;
    const past = new PlainKvCache(numLayers, numKvHeads, headDim);
    const first = await host.session.forward({
      ids: ids.slice(0, 6),
      positions: [0, 1, 2, 3, 4, 5],
      past,
      logitIndex: [5],
    });
    past.append(first.keys, first.values, 6);
    const rest = { ids: ids.slice(6), positions: [6, 7, 8, 9], past, logitIndex: [3] };
    const a = await host.session.forward(rest);
    const b = await device.session.forward(rest);
    expect(b.keys[0]!.length).toBe(4 * numKvHeads * headDim);
    // Not bit-equal: the host path attends over the cache's padded capacity (masked slots), the device path over an
    // exact past, so the products are blocked and summed differently.
    const worst = (x: Float32Array, y: Float32Array) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
    for (let l = 0; l < numLayers; l++) {
      expect(worst(b.keys[l]!, a.keys[l]!)).toBeLessThan(1e-5);
      expect(worst(b.values[l]!, a.values[l]!)).toBeLessThan(1e-5);
    }
    expect(worst(b.logits, a.logits)).toBeLessThan(1e-4);
  });
});
