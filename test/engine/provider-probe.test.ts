/**
 * The provider probe: `auto` learns once whether WebGPU can start here and remembers it, so that commands on a
 * machine without a GPU print nothing from Dawn. The CLI checks run the built bundle twice on a fresh cache dir.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  PROBE_TTL_MS,
  findVulkanLoader,
  forgetProbes,
  probeWebGpuInChild,
  webGpuAvailability,
  type WebGpuProbe,
} from '../../src/engine/provider-probe';
import { REPO_ROOT } from '../helpers/paths';

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-probe-'));
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));
const expectGpu = process.env.REPOKV_EXPECT_GPU;

function countingProbe(answer: WebGpuProbe) {
  const calls: string[] = [];
  const impl = (dir: string) => {
    calls.push(dir);
    return Promise.resolve(answer);
  };
  return { calls, impl };
}

describe('WebGPU availability probe', () => {
  beforeEach(() => forgetProbes());

  it('probes once, then answers from the cache file in later processes', async () => {
    const dir = path.join(ROOT, 'cached');
    const { calls, impl } = countingProbe({ unavailable: 'no adapter', detail: 'dawn said so' });
    const first = await webGpuAvailability(dir, impl);
    expect(first).toEqual({ unavailable: 'no adapter', detail: 'dawn said so', source: 'probe' });
    expect(await webGpuAvailability(dir, impl)).toBe(await webGpuAvailability(dir, impl)); // per-process memo
    forgetProbes(); // as a new process would
    const second = await webGpuAvailability(dir, impl);
    expect(second.source).toBe('cache');
    expect(second.unavailable).toBe('no adapter');
    expect(calls).toHaveLength(1);
  });

  it('probes again when the machine fingerprint changed or the answer expired', async () => {
    const dir = path.join(ROOT, 'stale');
    const { calls, impl } = countingProbe({ unavailable: null, detail: '' });
    await webGpuAvailability(dir, impl);
    const file = path.join(dir, 'provider-probe.json');
    const record = JSON.parse(fs.readFileSync(file, 'utf8')) as { fingerprint: string; at: number };
    fs.writeFileSync(file, JSON.stringify({ ...record, fingerprint: 'another machine' }));
    forgetProbes();
    expect((await webGpuAvailability(dir, impl)).source).toBe('probe');
    fs.writeFileSync(file, JSON.stringify({ ...record, at: Date.now() - PROBE_TTL_MS - 1 }));
    forgetProbes();
    expect((await webGpuAvailability(dir, impl)).source).toBe('probe');
    fs.writeFileSync(file, '{ not json');
    forgetProbes();
    expect((await webGpuAvailability(dir, impl)).source).toBe('probe');
    expect(calls).toHaveLength(4); // the first answer and three re-probes
  });

  it('does not remember a probe that could not run', async () => {
    const dir = path.join(ROOT, 'transient');
    const { calls, impl } = countingProbe({ unavailable: 'probe failed (timeout)', detail: '', transient: true });
    expect((await webGpuAvailability(dir, impl)).unavailable).toBe('probe failed (timeout)');
    forgetProbes();
    await webGpuAvailability(dir, impl);
    expect(calls).toHaveLength(2);
    expect(fs.existsSync(path.join(dir, 'provider-probe.json'))).toBe(false);
  });

  it.skipIf(!!expectGpu)('a child-process probe keeps Dawn’s warnings in its own stderr', async () => {
    const result = await probeWebGpuInChild(path.join(ROOT, 'child'));
    expect(result.unavailable).toMatch(/WebGPU adapter|.+/);
    if (process.platform === 'linux' && !findVulkanLoader()) expect(result.detail).toMatch(/Vulkan/);
  });
});

describe('CLI stderr on this machine', () => {
  const cli = path.join(REPO_ROOT, 'dist', 'cli.js');
  const cacheDir = path.join(ROOT, 'cli-cache');
  const run = (...extra: string[]) =>
    spawnSync(process.execPath, [cli, 'generate', '--prompt', 'x', '--max-tokens', '2', ...extra], {
      encoding: 'utf8',
      env: { ...process.env, REPOKV_CACHE_DIR: cacheDir },
    });

  // Installing a system package between the two commands reruns ldconfig, which rightly invalidates the cached
  // answer (machineFingerprint): that, and only that, makes the second command probe again.
  it.skipIf(!!expectGpu)('has no Vulkan or Dawn line, and the second command does not probe', () => {
    const first = run();
    expect(first.status).toBe(0);
    expect(first.stderr).not.toMatch(/vulkan|dawn/i);
    const probeFile = path.join(cacheDir, 'provider-probe.json');
    const written = fs.statSync(probeFile).mtimeMs;
    const second = run('-v');
    expect(second.status).toBe(0);
    expect(second.stderr).toMatch(/webgpu: unavailable \(.*; cached probe\)/);
    expect(second.stderr).not.toMatch(/Couldn't load Vulkan|dawn/i);
    expect(fs.statSync(probeFile).mtimeMs).toBe(written);
  });
});
