/**
 * `node dist/bench.js graph-check --size-mb 2048 --runs 3`: what checking a cached graph costs before a session
 * opens it (graph-manifest.ts chose from these figures), and what the provider probe costs with and without its
 * cached answer (provider-probe.ts). The weights file is random bytes of the given size in a temporary dir.
 */
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import { checkGraphDir, sha256File, writeManifest } from '../src/engine/graph-manifest';
import { findVulkanLoader, forgetProbes, probeWebGpuInChild, webGpuAvailability } from '../src/engine/provider-probe';
import { jsonOption } from './common-options';
import { fmt, median, timeRuns } from './stats';

function writeRandom(file: string, bytes: number): void {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.allocUnsafe(1 << 24);
  try {
    for (let left = bytes; left > 0; left -= chunk.length) {
      randomFillSync(chunk);
      fs.writeSync(fd, chunk, 0, Math.min(left, chunk.length));
    }
  } finally {
    fs.closeSync(fd);
  }
}

function readAll(file: string): void {
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.allocUnsafe(1 << 24);
  try {
    while (fs.readSync(fd, buffer, 0, buffer.length, null) > 0);
  } finally {
    fs.closeSync(fd);
  }
}

async function measure(sizeMb: number, runs: number) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-graph-check-'));
  try {
    const dir = path.join(root, 'graph');
    fs.mkdirSync(dir);
    writeRandom(path.join(dir, 'model.onnx'), 64 << 10);
    const weights = path.join(dir, 'weights.bin');
    writeRandom(weights, sizeMb * 2 ** 20);
    writeManifest(dir, 0);
    const ms = async (fn: () => void) => median(await timeRuns(runs, async () => fn()));
    const rows = {
      readMs: await ms(() => readAll(weights)),
      sha256Ms: await ms(() => void sha256File(weights)),
      quickCheckMs: await ms(() => {
        if (checkGraphDir(dir) !== null) throw new Error('bench: quick check failed');
      }),
      fullCheckMs: await ms(() => {
        if (checkGraphDir(dir, true) !== null) throw new Error('bench: full check failed');
      }),
      loaderSearchMs: await ms(() => void findVulkanLoader()),
      childProbeMs: median(await timeRuns(runs, async () => void (await probeWebGpuInChild(root)))),
      cachedProbeMs: 0,
    };
    await webGpuAvailability(root);
    rows.cachedProbeMs = median(
      await timeRuns(runs, async () => {
        forgetProbes();
        if ((await webGpuAvailability(root)).source !== 'cache') throw new Error('bench: probe not cached');
      }),
    );
    return { bytes: fs.statSync(weights).size, runs, ...rows };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

export function registerGraphCheckCommand(program: Command): void {
  program
    .command('graph-check')
    .description('cost of checking a cached graph before opening it, and of the provider probe')
    .option('--size-mb <n>', 'weights file size in MiB', '2048')
    .option('--runs <n>', 'runs per figure (median reported)', '3')
    .addOption(jsonOption())
    .action(async (opts: { sizeMb: string; runs: string; json?: boolean }) => {
      const r = await measure(Number(opts.sizeMb), Number(opts.runs));
      if (opts.json) {
        console.log(JSON.stringify(r));
        return;
      }
      const gbps = (t: number) => fmt(r.bytes / 1e9 / (t / 1e3), 2);
      console.log(`weights ${fmt(r.bytes / 2 ** 30, 2)} GiB, page-cached; ${r.runs} runs per row (medians)\n`);
      console.log('| step | ms | GB/s |\n|---|---:|---:|');
      console.log(`| read the weights | ${fmt(r.readMs, 0)} | ${gbps(r.readMs)} |`);
      console.log(`| sha256 of the weights | ${fmt(r.sha256Ms, 0)} | ${gbps(r.sha256Ms)} |`);
      console.log(`| graph check, stamps unchanged (size + stat) | ${fmt(r.quickCheckMs, 2)} | |`);
      console.log(`| graph check, full (every file hashed) | ${fmt(r.fullCheckMs, 0)} | |`);
      console.log(`| provider probe: Vulkan loader search | ${fmt(r.loaderSearchMs, 2)} | |`);
      console.log(`| provider probe: WebGPU session in a child process | ${fmt(r.childProbeMs, 0)} | |`);
      console.log(`| provider probe: cached answer | ${fmt(r.cachedProbeMs, 2)} | |`);
    });
}
