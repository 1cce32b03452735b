/**
 * `node dist/bench.js <suite> [options]`: RepoKV's benchmarks. Each suite prints a Markdown table (for
 * BENCHMARKS.md) and, with --json, the raw figures. Ratios are measured within one run.
 */
import '../src/engine/float16-workaround';
import { Command } from 'commander';
import { Engine } from '../src/engine/engine';
import { registerDecodeCacheCommand } from './decode-cache';
import { measureEngineThroughput } from './engine-throughput';
import { MatMulProbe } from './matmul-throughput';
import { benchSidecarLatency } from './sidecar-latency';
import { completionSummary, benchRepository } from './repository-bench';
import { fmt, median } from './stats';

const program = new Command('repokv-bench');

program
  .command('engine')
  .description('prefill and decode tokens/s at several context lengths vs measured MatMul throughput')
  .option('--model <dir>', 'checkpoint (default: bundled coder-15m)')
  .option('--contexts <list>', 'context lengths', '512,2048,4096')
  .option('--runs <n>', 'runs per figure (median reported)', '5')
  .option('--chunk <n>', 'prefill chunk', '512')
  .option('--json', 'print raw JSON')
  .action(async (opts: { model?: string; contexts: string; runs: string; chunk: string; json?: boolean }) => {
    const engine = await Engine.load({ modelDir: opts.model, provider: 'cpu' });
    const probe = await MatMulProbe.create();
    const contexts = opts.contexts.split(',').map(Number);
    const rows = await measureEngineThroughput(engine, probe, contexts, Number(opts.runs), 16, Number(opts.chunk));
    await probe.dispose();
    await engine.dispose();
    if (opts.json) {
      console.log(JSON.stringify({ matmulN: probe.n, rows }));
      return;
    }
    console.log(`runs: ${opts.runs} per row (medians); prefill chunk ${opts.chunk}; MatMul probe ${probe.n}³ fp32\n`);
    console.log(
      '| context | prefill tok/s | prefill GFLOP/s | MatMul GFLOP/s | prefill ÷ MatMul | decode tok/s | decode ÷ MatMul |',
    );
    console.log('|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(
        `| ${r.contextTokens} | ${fmt(r.prefillTokensPerSec, 0)} | ${fmt(r.prefillGflops)} | ${fmt(r.matmulGflops)} | ` +
          `${fmt(100 * r.prefillVsMatMul)} % | ${fmt(r.decodeTokensPerSec, 0)} | ${fmt(100 * r.decodeVsMatMul, 2)} % |`,
      );
    }
  });

program
  .command('repository <repo>')
  .description('index, one-line edits, restart reload and completion latency on a repository')
  .option('--model <dir>', 'checkpoint (default: bundled coder-15m)')
  .option('--edits <n>', 'one-line edits measured', '5')
  .option('--reloads <n>', 'restart reloads measured', '3')
  .option('--completions <n>', 'completion positions measured', '10')
  .option('--json', 'print raw JSON')
  .action(
    async (
      repo: string,
      opts: { model?: string; edits: string; reloads: string; completions: string; json?: boolean },
    ) => {
      const engine = await Engine.load({ modelDir: opts.model, provider: 'cpu' });
      const r = await benchRepository(engine, repo, {
        edits: Number(opts.edits),
        reloads: Number(opts.reloads),
        completions: Number(opts.completions),
        progress: (l) => console.error(l),
      });
      await engine.dispose();
      if (opts.json) {
        console.log(JSON.stringify(r));
        return;
      }
      console.log(
        `| files | segments | tokens | kept tokens | bytes | bytes/token | vs fp16 | index s | peak RSS MiB | skipped |`,
      );
      console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
      console.log(
        `| ${r.files} | ${r.segments} | ${r.tokens} | ${r.keptTokens} | ${r.bytes} | ${fmt(r.bytesPerToken)} | ` +
          `${fmt(r.compressionRatio)}x | ${fmt(r.indexSeconds)} | ${fmt(r.peakRssMiB, 0)} | ${r.skipped} |`,
      );
      console.log(
        `\none-line edit: median cost ${fmt(100 * r.editCostVsFullMedian, 2)} % of a full index; changed segments ` +
          `${fmt(100 * r.editShareMedian, 2)} % of the tokens (bound: share + 10 %) over ${r.editRuns.length} edits`,
      );
      console.log(
        `restart reload: median ${fmt(median(r.reloadSeconds), 2)} s vs ${fmt(r.indexSeconds)} s full prefill = ` +
          `${fmt(r.reloadSpeedup)}x faster (${r.reloadSeconds.length} reloads)`,
      );
      console.log(
        `complete latency: with the repository ${completionSummary(r.completeMs.withRepository)}; ` +
          `without ${completionSummary(r.completeMs.withoutRepository)} (${r.completeMs.withRepository.length} positions)`,
      );
    },
  );

registerDecodeCacheCommand(program);

program
  .command('sidecar-latency <repo> <file>')
  .description('completion latency through the sidecar over a scripted typing session, with and without the repository')
  .option('--typed <n>', 'characters typed', '60')
  .action(async (repo: string, file: string, opts: { typed: string }) => {
    const r = await benchSidecarLatency(repo, file, Number(opts.typed));
    console.log('| workspace | completions | p50 ms | p90 ms |');
    console.log('|---|---:|---:|---:|');
    console.log(
      `| whole repository cached | ${r.withRepository.n} | ${fmt(r.withRepository.p50, 0)} | ${fmt(r.withRepository.p90, 0)} |`,
    );
    console.log(
      `| the file alone | ${r.withoutRepository.n} | ${fmt(r.withoutRepository.p50, 0)} | ${fmt(r.withoutRepository.p90, 0)} |`,
    );
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
