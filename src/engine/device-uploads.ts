/**
 * Graph inputs that stay the same over many runs (the compressed repository block) uploaded to the device once
 * and reused while they are unchanged. The upload is a run of a tiny identity graph whose outputs are located on
 * the device: onnxruntime-node has no "copy this tensor to the GPU" call, but an output it leaves in a WebGPU
 * buffer can be fed to any session on the same device. On the CPU provider the outputs are ordinary tensors
 * (one copy per upload), which is what lets the bookkeeping be tested without a GPU.
 *
 * What counts as "unchanged" is the caller's selection: a list of objects compared by identity (the repository
 * cache's selected segments, which are never modified in place). A new selection releases the old tensors.
 *
 * The same kind of tiny session cuts device tensors to their first tokens (`truncate`): a kept prompt's state is
 * shortened on the device for the next keystroke instead of going to the host and back.
 */
import * as ort from 'onnxruntime-node';
import { PRESENT_LAYOUT } from '../../kernels/device-state';
import { encodeSmallGraph, TensorDataType, valueInfo } from '../../kernels/onnx-proto';
import type { ExecutionProvider } from './providers';

const ELEMENT_TYPES: Partial<Record<ort.Tensor.Type, TensorDataType>> = {
  float32: TensorDataType.FLOAT,
  float16: TensorDataType.FLOAT16,
  uint8: TensorDataType.UINT8,
  int64: TensorDataType.INT64,
  int32: TensorDataType.INT32,
};

/** An identity graph over `feeds`' names, types and ranks: input `x` → output `device/x`. */
function identityModel(feeds: Record<string, ort.Tensor>): Uint8Array {
  const value = (name: string, t: ort.Tensor) => {
    const elemType = ELEMENT_TYPES[t.type];
    if (elemType === undefined) throw new Error(`internal error: cannot upload a ${t.type} tensor (${name})`);
    return valueInfo(
      name,
      elemType,
      t.dims.map((_, i) => `${name}#${i}`),
    );
  };
  const names = Object.keys(feeds).sort();
  return encodeSmallGraph({
    name: 'repokv-upload',
    node: names.map((n) => ({
      name: `upload/${n}`,
      opType: 'Identity',
      input: [n],
      output: [`device/${n}`],
      attribute: [],
    })),
    initializer: [],
    input: names.map((n) => value(n, feeds[n]!)),
    output: names.map((n) => value(`device/${n}`, feeds[n]!)),
  });
}

/** `count` float tensors in the present's layout cut to their first `keep` tokens: `x.i` → `device/x.i`. */
function truncateModel(count: number, rank: number): Uint8Array {
  const value = (name: string) =>
    valueInfo(
      name,
      TensorDataType.FLOAT,
      Array.from({ length: rank }, (_, i) => `${name}#${i}`),
    );
  const int64 = (name: string, v: number) => ({
    name,
    dims: [1],
    dataType: TensorDataType.INT64,
    rawData: new Uint8Array(BigInt64Array.of(BigInt(v)).buffer),
  });
  const names = Array.from({ length: count }, (_, i) => `x.${i}`);
  return encodeSmallGraph({
    name: 'repokv-truncate',
    node: names.map((n) => ({
      name: `truncate/${n}`,
      opType: 'Slice',
      input: [n, 'start', 'keep', 'axis'],
      output: [`device/${n}`],
      attribute: [],
    })),
    initializer: [int64('start', 0), int64('axis', PRESENT_LAYOUT.tokenAxis)],
    input: [...names.map(value), valueInfo('keep', TensorDataType.INT64, [1])],
    output: names.map((n) => value(`device/${n}`)),
  });
}

function signature(feeds: Record<string, ort.Tensor>): string {
  return Object.keys(feeds)
    .sort()
    .map((n) => `${n}:${feeds[n]!.type}:${feeds[n]!.dims.length}`)
    .join(',');
}

function sameSelection(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export class DeviceUploads {
  /** Upload runs so far (tests and benchmarks count them). */
  uploads = 0;
  private current: { selection: readonly unknown[]; tensors: Record<string, ort.Tensor> } | null = null;
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();

  constructor(private readonly provider: ExecutionProvider) {}

  /**
   * The device copies of `feeds()` for `selection`: uploaded on the first call and after the selection changed,
   * the same tensors otherwise (then `feeds` is not called).
   */
  async get(
    selection: readonly unknown[],
    feeds: () => Record<string, ort.Tensor>,
  ): Promise<Record<string, ort.Tensor>> {
    if (this.current && sameSelection(this.current.selection, selection)) return this.current.tensors;
    this.releaseCurrent();
    const host = feeds();
    const session = await this.sessionFor(host);
    const out = await session.run(host);
    this.uploads++;
    const tensors = Object.fromEntries(Object.keys(host).map((n) => [n, out[`device/${n}`]!]));
    this.current = { selection: [...selection], tensors };
    return tensors;
  }

  /** `tensors` (float, in the present's layout) cut on the device to their first `keep` tokens. */
  async truncate(tensors: ort.Tensor[], keep: number): Promise<ort.Tensor[]> {
    const session = this.session(`truncate:${tensors.length}:${tensors[0]?.dims.length ?? 0}`, () =>
      truncateModel(tensors.length, tensors[0]?.dims.length ?? 0),
    );
    const feeds: Record<string, ort.Tensor> = { keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(keep)), [1]) };
    tensors.forEach((t, i) => (feeds[`x.${i}`] = t));
    const out = await (await session).run(feeds);
    return tensors.map((_, i) => out[`device/x.${i}`]!);
  }

  private sessionFor(feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession> {
    return this.session(signature(feeds), () => identityModel(feeds));
  }

  private session(key: string, model: () => Uint8Array): Promise<ort.InferenceSession> {
    let session = this.sessions.get(key);
    if (!session) {
      session = ort.InferenceSession.create(model(), {
        executionProviders: [this.provider],
        preferredOutputLocation: this.provider === 'webgpu' ? 'gpu-buffer' : 'cpu',
        logSeverityLevel: 4,
      });
      this.sessions.set(key, session);
    }
    return session;
  }

  private releaseCurrent(): void {
    if (!this.current) return;
    for (const t of Object.values(this.current.tensors)) t.dispose();
    this.current = null;
  }

  async release(): Promise<void> {
    this.releaseCurrent();
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (s) => (await s).release()));
  }
}
