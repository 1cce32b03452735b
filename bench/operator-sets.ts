/**
 * `bench operators`: the same forward step through the plain-operator and the contrib-operator graph of one
 * checkpoint and weight format, timed in pairs (step i runs both graphs back to back, odd i in the other order), so
 * that load drifting on a shared machine cancels in each pair's ratio. Two steps: a decode step (one token over a
 * past of `context` tokens) and a prefill chunk (`chunk` tokens over `context - chunk`). The past is random: the
 * timing does not depend on its values.
 */
import type { OperatorSet } from '../kernels/decoder-ops';
import type { WeightBits } from '../kernels/weight-quant';
import type { ForwardInput } from '../src/engine/decoder-session';
import { Engine } from '../src/engine/engine';
import { seededRandom } from '../src/engine/sampling';
import { median } from './stats';

export interface OperatorStepRow {
  step: 'decode' | 'prefill';
  tokens: number;
  pastTokens: number;
  onnxMs: number;
  contribMs: number;
  /** Median over pairs of onnx time ÷ contrib time: above 1, the contrib graph is faster. */
  contribSpeedup: number;
  pairs: number;
}

function stepInput(engine: Engine, tokens: number, past: number, seed: number): ForwardInput {
  const { numLayers, numKvHeads, headDim, vocabSize } = engine.config;
  const random = seededRandom(seed);
  const layer = () => Float32Array.from({ length: past * numKvHeads * headDim }, () => random() - 0.5);
  const keys = Array.from({ length: numLayers }, layer);
  const values = Array.from({ length: numLayers }, layer);
  return {
    ids: Array.from({ length: tokens }, () => Math.floor(random() * vocabSize)),
    positions: Array.from({ length: tokens }, (_, i) => past + i),
    past: {
      length: past,
      capacity: past,
      keysBuffer: (l) => keys[l]!,
      valuesBuffer: (l) => values[l]!,
      compactKeys: (l) => keys[l]!,
      compactValues: (l) => values[l]!,
    },
    logitIndex: [tokens - 1],
  };
}

export async function benchOperatorSets(options: {
  modelDir?: string;
  weightBits: WeightBits;
  context: number;
  chunk: number;
  pairs: number;
  threads?: number;
}): Promise<OperatorStepRow[]> {
  const { context, chunk, pairs } = options;
  if (!(chunk > 0 && chunk < context)) throw new RangeError(`--chunk must be between 1 and ${context - 1}`);
  const load = (operators: OperatorSet) =>
    Engine.load({
      modelDir: options.modelDir,
      provider: 'cpu',
      weightBits: options.weightBits,
      operators,
      threads: options.threads,
    });
  const onnx = await load('onnx');
  const contrib = await load('contrib');
  try {
    const rows: OperatorStepRow[] = [];
    for (const [step, tokens, past] of [
      ['decode', 1, context],
      ['prefill', chunk, context - chunk],
    ] as const) {
      const input = stepInput(onnx, tokens, past, 3);
      const time = async (e: Engine) => {
        const t = performance.now();
        await e.session.forward(input);
        return performance.now() - t;
      };
      for (let i = 0; i < 3; i++) {
        await time(onnx); // warm-up
        await time(contrib);
      }
      const onnxMs: number[] = [];
      const contribMs: number[] = [];
      for (let i = 0; i < pairs; i++) {
        if (i % 2) {
          contribMs.push(await time(contrib));
          onnxMs.push(await time(onnx));
        } else {
          onnxMs.push(await time(onnx));
          contribMs.push(await time(contrib));
        }
      }
      rows.push({
        step,
        tokens,
        pastTokens: past,
        onnxMs: median(onnxMs),
        contribMs: median(contribMs),
        contribSpeedup: median(onnxMs.map((o, i) => o / contribMs[i]!)),
        pairs,
      });
    }
    return rows;
  } finally {
    await onnx.dispose();
    await contrib.dispose();
  }
}
