/**
 * `bench decode-profile`: where one decode step's time goes, by operator type, from onnxruntime's own profiler.
 * It opens a cached decoder graph directly (any variant without a repository block) and runs single-token steps
 * over a random head-major past, so the figure is the graph's, not the engine's bookkeeping. The profiler adds
 * its own cost per node: read the shares, not the absolute times.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint } from '../src/engine/checkpoint';
import { causalBias, padPastBias } from '../src/engine/decoder-session';
import { jsonOption, threadsOption } from './common-options';
import { fmt, median } from './stats';

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

const int64 = (v: number) => new ort.Tensor('int64', BigInt64Array.of(BigInt(v)), [1]);

export async function profileDecodeStep(options: {
  graph: string;
  modelDir: string;
  past: number;
  steps: number;
  threads?: number;
}): Promise<{ stepMs: number; byOperator: { op: string; msPerStep: number; share: number }[] }> {
  const { numLayers, numKvHeads: KV, headDim: d } = loadCheckpoint(options.modelDir).config;
  const prefix = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-profile-')), 'profile');
  const session = await ort.InferenceSession.create(options.graph, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    enableProfiling: true,
    profileFilePrefix: prefix,
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
  });
  const capacity = options.past + 128; // as the cache pads: masked slots after the past
  const random = () => Float32Array.from({ length: KV * capacity * d }, () => Math.random() - 0.5);
  const feeds: Record<string, ort.Tensor> = {};
  for (let l = 0; l < numLayers; l++) {
    feeds[`past_key.${l}`] = new ort.Tensor('float32', random(), [KV, capacity, d]);
    feeds[`past_value.${l}`] = new ort.Tensor('float32', random(), [KV, capacity, d]);
  }
  const bias = padPastBias(causalBias(1, options.past), 1, options.past, capacity);
  const stepMs: number[] = [];
  for (let i = 0; i < options.steps; i++) {
    const started = performance.now();
    await session.run({
      ...feeds,
      input_ids: int64(5),
      position_ids: int64(options.past),
      attention_bias: new ort.Tensor('float32', bias, [1, capacity + 1]),
      logit_index: int64(0),
    });
    stepMs.push(performance.now() - started);
  }
  session.endProfiling();
  await session.release();
  const dir = path.dirname(prefix);
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
  if (!file) throw new Error('onnxruntime wrote no profile');
  const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as ProfileEvent[];
  fs.rmSync(dir, { recursive: true, force: true });
  const totals = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue;
    totals.set(e.args.op_name, (totals.get(e.args.op_name) ?? 0) + e.dur);
  }
  const all = [...totals.values()].reduce((a, b) => a + b, 0);
  const byOperator = [...totals]
    .sort((a, b) => b[1] - a[1])
    .map(([op, us]) => ({ op, msPerStep: us / 1000 / options.steps, share: us / all }));
  return { stepMs: median(stepMs), byOperator };
}

export function registerDecodeProfileCommand(program: Command): void {
  program
    .command('decode-profile')
    .description("one decode step's kernel time by operator type (onnxruntime's profiler) for a cached graph")
    .requiredOption('--graph <file>', 'a cached model.onnx (under the cache directory, graphs/<key>/)')
    .requiredOption('--model <dir>', 'the checkpoint the graph was built from (for its shape)')
    .option('--past <n>', 'past tokens', '1024')
    .option('--steps <n>', 'profiled steps', '16')
    .addOption(threadsOption())
    .addOption(jsonOption())
    .action(
      async (opts: { graph: string; model: string; past: string; steps: string; threads?: string; json?: boolean }) => {
        const result = await profileDecodeStep({
          graph: opts.graph,
          modelDir: opts.model,
          past: Number(opts.past),
          steps: Number(opts.steps),
          threads: opts.threads ? Number(opts.threads) : undefined,
        });
        if (opts.json) {
          console.log(JSON.stringify(result));
          return;
        }
        console.log(`median step ${fmt(result.stepMs)} ms (profiling on)`);
        for (const r of result.byOperator.slice(0, 14))
          console.log(`${r.op.padEnd(34)} ${fmt(r.msPerStep, 2)} ms/step  ${fmt(100 * r.share)} %`);
      },
    );
}
