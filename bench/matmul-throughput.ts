/**
 * The machine's measured fp32 matrix-multiply throughput through onnxruntime: the ceiling every engine figure is
 * a ratio of. A single MatMul graph of [n, n] × [n, n] (n = 2048 by default: large enough for MLAS to reach its
 * peak here) on the CPU provider with default threads, like the engine.
 * The machine is shared and noisy, so callers re-measure right before each engine measurement and report the
 * median of the per-run ratios rather than comparing against one early reading.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../kernels/graph-builder';
import { TensorDataType } from '../kernels/onnx-proto';
import { timeRuns } from './stats';

export class MatMulProbe {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly feeds: Record<string, ort.Tensor>,
    private readonly dir: string,
    readonly n: number,
  ) {}

  static async create(n = 2048): Promise<MatMulProbe> {
    const g = new GraphBuilder('matmul-probe');
    const a = g.input('a', TensorDataType.FLOAT, [n, n]);
    const b = g.input('b', TensorDataType.FLOAT, [n, n]);
    g.output('c', g.op('MatMul', [a, b]), TensorDataType.FLOAT, [n, n]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-matmul-'));
    g.save(dir, {});
    const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), { executionProviders: ['cpu'] });
    const data = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
    const feeds = { a: new ort.Tensor('float32', data, [n, n]), b: new ort.Tensor('float32', data, [n, n]) };
    await session.run(feeds); // warm-up: thread pool start, first-touch allocations
    return new MatMulProbe(session, feeds, dir, n);
  }

  /**
   * GFLOP/s of the fastest of `reps` MatMul runs: the ceiling is what the machine can reach right now, so
   * engine figures divided by it are conservative (a slow rep caused by a neighbour does not flatter them).
   */
  async gflops(reps = 5): Promise<number> {
    const times = await timeRuns(reps, async () => void (await this.session.run(this.feeds)));
    return (2 * this.n ** 3) / (Math.min(...times) / 1000) / 1e9;
  }

  async dispose(): Promise<void> {
    await this.session.release();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
