/**
 * `node dist/bench.js <suite> [options]`: RepoKV's benchmarks. Each suite prints a Markdown table (for
 * BENCHMARKS.md) and, with --json, the raw figures. Ratios are measured within one run.
 */
import '../src/engine/float16-workaround';
import { Command } from 'commander';
import { OPERATOR_SETS, type OperatorSet } from '../kernels/decoder-ops';
import { parseWeightBits, type WeightBits } from '../kernels/weight-quant';
import { parseActivations } from '../src/engine/activations';
import { Engine } from '../src/engine/engine';
import { bundledModelDir } from '../src/engine/paths';
import { jsonOption, modelOption, providerOption, threadsOption } from './common-options';
import { registerDecodeCacheCommand } from './decode-cache';
import { registerDecodeProfileCommand } from './decode-profile';
import { benchDeviceState } from './device-state';
import { registerGraphCheckCommand } from './graph-check';
import { registerLineEndCommand } from './line-end';
import { type WeightVariant, measureWeightVariants } from './weight-bits-throughput';
import { makeCheckpoint } from './make-checkpoint';
import { benchOperatorSets } from './operator-sets';
import { registerFrontierCommands } from './frontier';
import { MatMulProbe } from './matmul-throughput';
import { pairedNll } from './paired-nll';
import { benchSidecarLatency } from './sidecar-latency';
import { completionSummary, benchRepository } from './repository-bench';
import { fmt, median } from './stats';
import { benchWeightQuality } from './weight-quality';

const program = new Command('repokv-bench');

interface EngineBenchOptions {
  model?: string;
  contexts: string;
  runs: string;
  chunk: string;
  weightBits: string;
  accuracyLevel: string;
  operators?: string;
  threads?: string;
  provider: string;
  activations: string;
  json?: boolean;
}

const weightBitsList = (list: string): WeightBits[] => list.split(',').map((b) => parseWeightBits(b.trim()));
const operatorSetList = (list: string): OperatorSet[] =>
  list.split(',').map((o) => {
    const set = o.trim() as OperatorSet;
    if (!OPERATOR_SETS.includes(set)) throw new Error(`--operators: expected onnx or contrib, got ${o}`);
    return set;
  });

program
  .command('engine')
  .description('prefill and decode tokens/s at several context lengths vs measured MatMul throughput')
  .addOption(modelOption())
  .option('--contexts <list>', 'context lengths', '512,2048,4096')
  .option('--runs <n>', 'runs per figure (median reported)', '5')
  .option('--chunk <n>', 'prefill chunk', '512')
  .option('--weight-bits <list>', 'weight precisions to compare (32 = exact; 8, 4 = MatMulNBits)', '32')
  .option('--accuracy-level <list>', 'MatMulNBits accuracy_level(s) for quantized weights (0 = float, 4 = int8)', '4')
  .option('--operators <list>', 'operator sets to compare (onnx, contrib; default: the engine chooses)')
  .addOption(threadsOption())
  .addOption(providerOption())
  .option('--activations <type>', 'auto (float16 on GPU providers), float32 or float16', 'auto')
  .addOption(jsonOption())
  .action(async (opts: EngineBenchOptions) => {
    const activations = parseActivations(opts.activations);
    const probe = await MatMulProbe.create();
    const contexts = opts.contexts.split(',').map(Number);
    const levels = opts.accuracyLevel.split(',').map((l) => (Number(l) === 0 ? 0 : 4) as 0 | 4);
    const operatorSets = opts.operators ? operatorSetList(opts.operators) : [undefined];
    const variants = weightBitsList(opts.weightBits)
      .flatMap((weightBits): WeightVariant[] =>
        weightBits === 32 ? [{ weightBits }] : levels.map((accuracyLevel) => ({ weightBits, accuracyLevel })),
      )
      .flatMap((v) => operatorSets.map((operators) => (operators ? { ...v, operators } : v)));
    const load = (v: WeightVariant) =>
      Engine.load({
        modelDir: opts.model,
        provider: opts.provider as 'cpu' | 'webgpu' | 'cuda',
        weightBits: v.weightBits,
        weightAccuracyLevel: v.accuracyLevel,
        operators: v.operators,
        threads: opts.threads ? Number(opts.threads) : undefined,
        activations,
      });
    const rows = await measureWeightVariants(variants, load, probe, contexts, Number(opts.runs), Number(opts.chunk));
    await probe.dispose();
    if (opts.json) {
      console.log(JSON.stringify({ matmulN: probe.n, activations, rows }));
      return;
    }
    console.log(`runs: ${opts.runs} per row (medians); prefill chunk ${opts.chunk}; MatMul probe ${probe.n}³ fp32\n`);
    console.log(
      '| weight bits | accuracy level | operators | context | prefill tok/s | prefill GFLOP/s | MatMul GFLOP/s | prefill ÷ MatMul | decode tok/s | decode ÷ MatMul | decode vs exact |',
    );
    console.log('|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(
        `| ${r.weightBits} | ${r.accuracyLevel ?? '–'} | ${r.operators} | ${r.contextTokens} | ${fmt(r.prefillTokensPerSec, 0)} | ${fmt(r.prefillGflops)} | ` +
          `${fmt(r.matmulGflops)} | ${fmt(100 * r.prefillVsMatMul)} % | ${fmt(r.decodeTokensPerSec, 1)} | ` +
          `${fmt(100 * r.decodeVsMatMul, 2)} % | ${r.decodeSpeedupVsExact ? fmt(r.decodeSpeedupVsExact, 2) + 'x' : '–'} |`,
      );
    }
  });

program
  .command('operators')
  .description('one decode step and one prefill chunk through the onnx and the contrib graph, timed in pairs')
  .addOption(modelOption())
  .option('--weight-bits <bits>', 'weights of both graphs (32 = exact; 8, 4 = MatMulNBits)', '4')
  .option('--context <n>', 'past + step tokens', '1024')
  .option('--chunk <n>', 'prefill chunk', '512')
  .option('--pairs <n>', 'timed pairs per step (medians reported)', '101')
  .addOption(threadsOption())
  .addOption(jsonOption())
  .action(
    async (opts: {
      model?: string;
      weightBits: string;
      context: string;
      chunk: string;
      pairs: string;
      threads?: string;
      json?: boolean;
    }) => {
      const rows = await benchOperatorSets({
        modelDir: opts.model,
        weightBits: parseWeightBits(opts.weightBits),
        context: Number(opts.context),
        chunk: Number(opts.chunk),
        pairs: Number(opts.pairs),
        threads: opts.threads ? Number(opts.threads) : undefined,
      });
      if (opts.json) {
        console.log(JSON.stringify({ weightBits: Number(opts.weightBits), rows }));
        return;
      }
      console.log('| step | tokens | past | onnx ms | contrib ms | contrib speedup (median of pairs) |');
      console.log('|---|---:|---:|---:|---:|---:|');
      for (const r of rows) {
        console.log(
          `| ${r.step} | ${r.tokens} | ${r.pastTokens} | ${fmt(r.onnxMs, 2)} | ${fmt(r.contribMs, 2)} | ${fmt(r.contribSpeedup, 3)}× |`,
        );
      }
    },
  );

program
  .command('make-checkpoint')
  .description('a random-weight checkpoint of a real model shape (BF16) with the bundled tokenizer files')
  .requiredOption('--out <dir>', 'output directory')
  .option('--shape <name>', 'model shape', 'qwen2.5-coder-0.5b')
  .option('--seed <n>', 'PRNG seed', '0')
  .option('--tokenizer-dir <dir>', 'checkpoint whose tokenizer files are copied (default: the bundled tiny-coder)')
  .action((opts: { out: string; shape: string; seed: string; tokenizerDir?: string }) => {
    const started = Date.now();
    const tokenizerDir = opts.tokenizerDir ?? bundledModelDir();
    const parameters = makeCheckpoint(opts.shape, opts.out, tokenizerDir, Number(opts.seed));
    console.log(
      JSON.stringify({ out: opts.out, shape: opts.shape, parameters, seconds: (Date.now() - started) / 1000 }),
    );
  });

program
  .command('weight-quality')
  .description('KL of quantized weights from the exact ones and both NLLs, on the long-file protocol')
  .addOption(modelOption())
  .option('--weight-bits <bits>', 'quantized weight bits (4 or 8)', '4')
  .option('--accuracy-level <n>', 'MatMulNBits accuracy_level (0 = float, 4 = int8)', '4')
  .option(
    '--activations <type>',
    'activations of the compared graph: float32, float16 or float16-emulated (with --weight-bits 32: fp16 alone)',
    'float32',
  )
  .option('--operators <set>', "the quantized graph's operators (onnx or contrib; default: the engine chooses)")
  .option('--repo <dir>', "repository whose files are scored (default: this project's src/)", 'src')
  .option('--prefix-tokens <n>', 'tokens before the target', '768')
  .option('--target-tokens <n>', 'tokens scored per file', '256')
  .option('--min-tokens <n>', 'scored tokens at least', '2000')
  .addOption(jsonOption())
  .action(
    async (opts: {
      model?: string;
      weightBits: string;
      accuracyLevel: string;
      activations: string;
      operators?: string;
      repo: string;
      prefixTokens: string;
      targetTokens: string;
      minTokens: string;
      json?: boolean;
    }) => {
      const weightBits = parseWeightBits(opts.weightBits);
      const exact = await Engine.load({ modelDir: opts.model, provider: 'cpu', weightBits: 32 });
      const quantized = await Engine.load({
        modelDir: opts.model,
        provider: 'cpu',
        weightBits,
        weightAccuracyLevel: Number(opts.accuracyLevel) === 0 ? 0 : 4,
        activations: parseActivations(opts.activations),
        operators: opts.operators ? operatorSetList(opts.operators)[0] : undefined,
      });
      const r = await benchWeightQuality(exact, quantized, weightBits, opts.repo, {
        prefixTokens: Number(opts.prefixTokens),
        targetTokens: Number(opts.targetTokens),
        minTokens: Number(opts.minTokens),
        progress: (l) => console.error(l),
      });
      await exact.dispose();
      await quantized.dispose();
      if (opts.json) {
        const operators = quantized.session.variant.operators ?? 'onnx';
        console.log(
          JSON.stringify({ ...r, accuracyLevel: Number(opts.accuracyLevel), activations: opts.activations, operators }),
        );
        return;
      }
      console.log('| weight bits | files | tokens | KL (nats) | NLL exact | NLL quantized |');
      console.log('|---:|---:|---:|---:|---:|---:|');
      console.log(
        `| ${r.weightBits} | ${r.files} | ${r.tokens} | ${fmt(r.klDivergence, 4)} | ${fmt(r.nllExact, 3)} | ` +
          `${fmt(r.nllQuantized, 3)} |`,
      );
    },
  );

program
  .command('repository <repo>')
  .description('index, one-line edits, restart reload and completion latency on a repository')
  .addOption(modelOption())
  .option('--edits <n>', 'one-line edits measured', '5')
  .option('--reloads <n>', 'restart reloads measured', '3')
  .option('--completions <n>', 'completion positions measured', '10')
  .addOption(jsonOption())
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

program
  .command('device-state')
  .description('greedy decode with state on the device vs the host path, interleaved (issue 11)')
  .addOption(modelOption())
  .option('--context <n>', 'prompt tokens (random ids)', '512')
  .option('--tokens <n>', 'generated tokens per run', '32')
  .option('--runs <n>', 'runs per path (median reported)', '5')
  .option('--weight-bits <n>', 'weight precision (default: the model size default)')
  .addOption(threadsOption())
  .addOption(providerOption())
  .addOption(jsonOption())
  .action(
    async (opts: {
      model?: string;
      context: string;
      tokens: string;
      runs: string;
      weightBits?: string;
      threads?: string;
      provider: string;
      json?: boolean;
    }) => {
      const r = await benchDeviceState({
        model: opts.model,
        provider: opts.provider as 'cpu' | 'webgpu' | 'cuda',
        weightBits: opts.weightBits ? parseWeightBits(opts.weightBits) : undefined,
        contextTokens: Number(opts.context),
        tokens: Number(opts.tokens),
        runs: Number(opts.runs),
        threads: opts.threads ? Number(opts.threads) : undefined,
      });
      if (opts.json) {
        console.log(JSON.stringify(r));
        return;
      }
      console.log(`context ${r.contextTokens} tokens, ${r.tokens} generated, ${r.runs} interleaved runs (medians)\n`);
      console.log('| path | provider | prefill ms | decode tok/s | total ms |');
      console.log('|---|---|---:|---:|---:|');
      for (const row of r.rows) {
        console.log(
          `| ${row.path} | ${row.provider} | ${fmt(row.prefillMs, 0)} | ${fmt(row.decodeTokensPerSec)} | ${fmt(row.totalMs, 0)} |`,
        );
      }
      console.log(`\ndevice ÷ host decode tok/s: ${fmt(r.decodeRatio, 2)}x; same tokens: ${r.sameTokens}`);
    },
  );

registerDecodeCacheCommand(program);
registerDecodeProfileCommand(program);
registerGraphCheckCommand(program);
registerLineEndCommand(program);
registerFrontierCommands(program);

program
  .command('sidecar-latency <repo> <file>')
  .description('completion latency through the sidecar over a scripted typing session, with and without the repository')
  .option('--typed <n>', 'characters typed', '60')
  .option('--model <dir>', "checkpoint (default: the sidecar's default model)")
  .option('--cache-dir <dir>', 'graph cache and store, reused across runs (default: a fresh temporary folder)')
  .action(async (repo: string, file: string, opts: { typed: string; model?: string; cacheDir?: string }) => {
    const r = await benchSidecarLatency(repo, file, Number(opts.typed), opts.model, opts.cacheDir);
    console.log('| workspace | completions | p50 ms | p90 ms |');
    console.log('|---|---:|---:|---:|');
    console.log(
      `| whole repository cached | ${r.withRepository.n} | ${fmt(r.withRepository.p50, 0)} | ${fmt(r.withRepository.p90, 0)} |`,
    );
    console.log(
      `| the file alone | ${r.withoutRepository.n} | ${fmt(r.withoutRepository.p50, 0)} | ${fmt(r.withoutRepository.p90, 0)} |`,
    );
  });

program
  .command('paired-nll <a> <b>')
  .description('two eval run --json reports on the same tasks: NLL of A minus NLL of B, paired by task, with its CI')
  .option('--config <name>', 'configuration compared in both', 'full')
  .option('--config-a <name>', 'configuration of A (default: --config)')
  .option('--config-b <name>', 'configuration of B (default: --config)')
  .action((a: string, b: string, opts: { config: string; configA?: string; configB?: string }) => {
    const r = pairedNll(a, opts.configA ?? opts.config, b, opts.configB ?? opts.config);
    console.log(
      `${r.tasks} tasks: NLL(A) − NLL(B) = ${r.difference.toFixed(4)} nats (95% CI ${r.ci.map((v) => v.toFixed(4)).join('..')})` +
        (r.significant ? '' : ', not significant'),
    );
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
