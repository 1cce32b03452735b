/**
 * The fp16 pass (kernels/float16-graph.ts), structurally, on every decoder graph variant of tiny-coder: every float
 * value is fp16 except the kept float32 spots, the interface stays float32, MatMulNBits scales follow their
 * activations, and onnxruntime's CPU provider accepts the converted graph (session creation checks every node's
 * type constraints). The numbers are checked in test/engine/float16-activations.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildDecoderGraph, type DecoderGraphOptions } from '../../kernels/decoder-graph';
import { convertToFloat16, elementTypes, float32Nodes, toFloat16Bits } from '../../kernels/float16-graph';
import { GraphBuilder } from '../../kernels/graph-builder';
import { TensorDataType } from '../../kernels/onnx-proto';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import { f16BitsToF32 } from '../../src/engine/safetensors';
import { TINY_MODEL } from '../helpers/paths';

const { FLOAT, FLOAT16 } = TensorDataType;
const checkpoint = loadCheckpoint(TINY_MODEL);
const layers = checkpoint.config.numLayers;
const reader = { has: (n: string) => checkpoint.tensors.has(n), read: (n: string) => checkpoint.readTensor(n) };

const VARIANTS: Record<string, DecoderGraphOptions> = {
  plain: { exposeHiddenStates: false },
  'hidden states': { exposeHiddenStates: true },
  'scoring window': { exposeHiddenStates: false, scoringWindow: 4 },
  '4-bit weights': {
    exposeHiddenStates: false,
    weights: { bits: 4, accuracyLevel: 4, headBits: 8, protectedLayers: 1 },
  },
  'compressed block': {
    exposeHiddenStates: false,
    compressed: {
      keyBits: Array(layers).fill(2),
      valueBits: [16, ...Array(layers - 1).fill(2)],
      keyGroup: 32,
      valueGroup: 32,
      rotateKeys: true,
    },
  },
  'fused block': {
    exposeHiddenStates: false,
    fused: {
      keyBits: Array(layers).fill(2),
      valueBits: [16, ...Array(layers - 1).fill(4)],
      keyBlock: 32,
      valueBlock: 32,
      capacity: Array(layers).fill(64),
      centerKeys: true,
      rotate: true,
    },
  },
};

function converted(options: DecoderGraphOptions, float32Scores = false) {
  const g = buildDecoderGraph(checkpoint.config, reader, options);
  const before = g.parts();
  const keptNames = new Set([...float32Nodes(before, { float32Scores })].map((i) => before.nodes[i]!.name));
  const interface_ = JSON.stringify({ inputs: before.inputs, outputs: before.outputs });
  convertToFloat16(g.parts(), { float32Scores });
  return { g, parts: g.parts(), keptNames, interface_ };
}

describe('the fp16 pass over every decoder variant', () => {
  for (const [name, options] of Object.entries(VARIANTS)) {
    it(`${name}: fp16 everywhere but the kept spots, float32 at the boundary, accepted by onnxruntime`, async () => {
      const { g, parts, keptNames, interface_ } = converted(options);
      expect(JSON.stringify({ inputs: parts.inputs, outputs: parts.outputs })).toBe(interface_);
      const types = elementTypes(parts);
      const producers = new Map(parts.nodes.flatMap((n) => n.output.map((o) => [o, n] as const)));
      for (const [value, type] of types) {
        if (type !== FLOAT || !producers.has(value)) continue;
        const n = producers.get(value)!;
        // A float32 value is computed by a kept node, or is a Cast widening for one.
        expect(keptNames.has(n.name) || (n.opType === 'Cast' && n.name.endsWith('/fp32/cast')), n.name).toBe(true);
      }
      const ops = (pred: (op: string) => boolean) =>
        parts.nodes.filter((n) => pred(n.opType) && !n.name.endsWith('/cast'));
      // The fragile spots are all kept: softmax, reductions, the RMSNorm statistic through its Div, rotary angles.
      for (const n of ops((op) => ['Softmax', 'ReduceMean', 'ReduceSum', 'Pow', 'Sqrt', 'Cos', 'Sin'].includes(op)))
        expect(keptNames.has(n.name), n.name).toBe(true);
      const normDivs = ops((op) => op === 'Div').filter((n) => keptNames.has(n.name));
      expect(normDivs.length).toBe(ops((op) => op === 'Pow').length);
      // Products and weights are fp16; MatMulNBits reads scales of its activation's type...
      for (const n of ops((op) => ['MatMul', 'Gemm', 'MatMulNBits'].includes(op))) {
        // ...except the repository block's MatMulNBits (B a graph input): its zero points need float32's range.
        const blockProduct = n.opType === 'MatMulNBits' && parts.inputs.some((v) => v.name === n.input[1]);
        expect(blockProduct, n.name).toBe(keptNames.has(n.name));
        const type = blockProduct ? FLOAT : FLOAT16;
        expect(types.get(n.input[0]!), n.name).toBe(type);
        if (n.opType === 'MatMulNBits') expect(types.get(n.input[2]!), n.name).toBe(type);
      }
      for (const w of parts.weights) expect(w.dataType ?? FLOAT, w.name).not.toBe(FLOAT);
      const floatConstants = parts.constants.filter((c) => c.dataType === FLOAT).map((c) => c.name);
      for (const c of floatConstants) {
        const readers = parts.nodes.filter((n) => n.input.includes(c));
        for (const r of readers) expect(keptNames.has(r.name), `${c} read by ${r.name}`).toBe(true);
      }
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-fp16-'));
      try {
        g.save(dir, {});
        const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), {
          executionProviders: ['cpu'],
          logSeverityLevel: 4,
        });
        await session.release();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('float32Scores keeps the score products and the bias in float32 up to the softmax', () => {
    const plain = converted(VARIANTS.plain!);
    const scores = converted(VARIANTS.plain!, true);
    const keptMatMuls = (c: typeof plain) =>
      c.parts.nodes.filter((n) => n.opType === 'MatMul' && c.keptNames.has(n.name)).length;
    expect(keptMatMuls(plain)).toBe(0);
    // q·kᵀ over the past and over the chunk per layer, not the probabilities·values products
    expect(keptMatMuls(scores)).toBe(2 * layers);
  });

  it('narrows -Infinity, the mask value, and large values as IEEE half does', () => {
    const bits = toFloat16Bits(Float32Array.from([-Infinity, 65504, 70000, 1 / 3, -0.5, 1e-8]));
    expect(Array.from(bits, f16BitsToF32)).toEqual([-Infinity, 65504, Infinity, 0.333251953125, -0.5, 0]);
  });

  it('types ArgMax (the device-state greedy token) as int64 and the omitted outputs of a contrib norm as nothing', () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', FLOAT, [1, 2]);
    const [normed, , , sum] = g.opN(
      'SkipSimplifiedLayerNormalization',
      [x, x, g.constant([1, 1], FLOAT, [2])],
      [true, false, false, true],
      { epsilon: { float: 1e-6 } },
      'com.microsoft',
    );
    g.output('token', g.op('ArgMax', [g.op('Add', [normed!, sum!])], { axis: -1 }), TensorDataType.INT64, [1, 1]);
    const types = elementTypes(g.parts());
    expect(types.get('') ?? null).toBeNull();
    expect([...types.entries()].filter(([v]) => v.startsWith('ArgMax')).map(([, t]) => t)).toEqual([
      TensorDataType.INT64,
    ]);
    expect(() => convertToFloat16(g.parts())).not.toThrow();
  });

  it('refuses an operator it has no typing rule for, in words', () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', FLOAT, [2]);
    g.output('y', g.op('Hardmax', [x]), FLOAT, [2]);
    expect(() => convertToFloat16(g.parts())).toThrow(/operator Hardmax .* is not known to it/);
  });
});
