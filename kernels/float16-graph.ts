/**
 * fp16 activations for GPU providers, as a pass over a built graph: every float32 activation, weight and constant
 * becomes float16, except a few numerically fragile spots that stay float32, and the graph's interface stays
 * float32 (Casts at the boundary), so the engine's host code feeds and reads the same tensors either way. A pass,
 * not a second builder: the decoder's builders (decoder-graph.ts, attention.ts, layers.ts) keep emitting one
 * graph, and this runs over it when the graph variant asks for fp16 activations (src/engine/graph-cache.ts).
 *
 * Kept in float32 (why: BENCHMARKS.md, "fp16 activations for GPU providers"):
 * - RMSNorm's statistic (x → Pow → ReduceMean → Add eps → Sqrt → Div): x² overflows fp16 (max 65504) once
 *   |x| > 256, which residual streams of Qwen2 models reach; x is widened exactly and only the normalized value
 *   (|·| ≈ 1) is narrowed, the pattern onnxruntime's SimplifiedLayerNormalization fusion accepts (Casts around).
 * - Rotary angles (position · inv_freq → Cos/Sin): positions above 2048 are not integers in fp16; every ancestor
 *   of a Cos/Sin stays float32 and only the cos/sin tables are narrowed.
 * - Softmax and every reduction (ReduceSum of the eviction scorer's attention sums): long rows summed in fp16
 *   lose the small terms. -Infinity (masked slots) and the APE log-scale bias survive fp16 as they are.
 * - Products with a repository block in MatMulNBits layout (kernels/fused-attention.ts, B a graph input): its
 *   zero points are −min/scale per block, beyond fp16's range when a block is nearly constant (NaN logits, seen).
 * - Optionally (`float32Scores`) the attention scores from the q·kᵀ products through the bias to the softmax.
 * - The graph outputs: each public output is widened from whatever computed it.
 * The logits are the LM head's fp16 output widened: the head is the largest product of a decode step, and
 * rounding a logit to fp16 moves it by at most 2⁻¹¹ of its size.
 */
import { f16BitsToF32, f32ToF16Bits } from '../src/engine/safetensors';
import type { GraphParts, WeightSource } from './graph-builder';
import { AttributeType, type NodeJson, TensorDataType } from './onnx-proto';

export interface Float16Options {
  /**
   * Test instrument for CPUs, whose onnxruntime runs most fp16 arithmetic as float32 behind its own Casts: keep
   * float32 types but round every value the real pass would store in fp16 (a Cast to fp16 and back after each
   * converted node, weights and constants rounded in place). Models fp16 storage, not fp16 arithmetic.
   */
  emulate?: boolean;
  /** Also keep the attention scores (the q·kᵀ products, bias and APE temperature up to the softmax) in float32. */
  float32Scores?: boolean;
}

const { FLOAT, FLOAT16, INT64 } = TensorDataType;

/**
 * Operators whose output has the element type of their first input (every one the decoder builders emit). The
 * contrib norms (kernels/decoder-ops.ts) stay fp16: their kernels accumulate the statistic in float32.
 */
const FIRST_INPUT_TYPED = new Set([
  'Abs',
  'Add',
  'Concat',
  'Cos',
  'Div',
  'Gather',
  'Gemm',
  'Identity',
  'MatMul',
  'MatMulNBits',
  'Mul',
  'Neg',
  'Pow',
  'ReduceMean',
  'ReduceSum',
  'Reshape',
  'RotaryEmbedding',
  'Sigmoid',
  'SimplifiedLayerNormalization',
  'Sin',
  'SkipSimplifiedLayerNormalization',
  'Slice',
  'Softmax',
  'Split',
  'Sqrt',
  'Squeeze',
  'Sub',
  'Transpose',
  'Unsqueeze',
]);
/** Reductions and normalizations computed in float32 wherever they appear. */
const FLOAT32_OPS = new Set(['Softmax', 'ReduceMean', 'ReduceSum', 'Pow']);
/** Products: the float32 score region stops at their inputs. */
const PRODUCTS = new Set(['MatMul', 'MatMulNBits', 'Gemm']);
/** Operators that accept any element type and need no Cast in front. */
const TYPE_AGNOSTIC_INPUTS = new Set(['Cast', 'Shape']);

function castTarget(node: NodeJson): number {
  const to = node.attribute.find((a) => a.name === 'to');
  if (to?.i === undefined) throw new Error(`internal error: Cast ${node.name} has no 'to'`);
  return Number(to.i);
}

/** Element type of every value of the graph as built (before the pass). */
export function elementTypes(parts: GraphParts): Map<string, number> {
  const types = new Map<string, number>();
  for (const v of parts.inputs) types.set(v.name, v.type.tensorType.elemType);
  for (const c of parts.constants) types.set(c.name, c.dataType);
  for (const w of parts.weights) types.set(w.name, w.dataType ?? FLOAT);
  for (const n of parts.nodes) {
    let t: number | undefined;
    if (n.opType === 'Cast') t = castTarget(n);
    else if (n.opType === 'Shape' || n.opType === 'ArgMax') t = INT64;
    else if (FIRST_INPUT_TYPED.has(n.opType)) t = types.get(n.input[0]!);
    else throw new Error(`float16 pass: operator ${n.opType} (${n.name}) is not known to it; add its typing rule`);
    if (t === undefined)
      throw new Error(`internal error: float16 pass: ${n.name} reads ${n.input[0]} before it exists`);
    for (const o of n.output) if (o) types.set(o, t); // an empty name is an omitted optional output
  }
  return types;
}

/** Indices of the nodes that stay float32 (see the file comment). */
export function float32Nodes(parts: GraphParts, options: Float16Options = {}): Set<number> {
  const { nodes } = parts;
  const types = elementTypes(parts);
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    for (const o of n.output) producer.set(o, i);
    for (const v of n.input) consumers.set(v, [...(consumers.get(v) ?? []), i]);
  });
  const publicOutputs = new Set(parts.outputs.map((o) => o.name));
  const graphInputs = new Set(parts.inputs.map((v) => v.name));
  const keep = new Set<number>();
  const sole = (value: string, opType: string) => {
    const c = consumers.get(value) ?? [];
    return c.length === 1 && nodes[c[0]!]!.opType === opType ? c[0]! : undefined;
  };
  nodes.forEach((n, i) => {
    if (FLOAT32_OPS.has(n.opType)) keep.add(i);
    if (n.opType === 'Identity' && publicOutputs.has(n.output[0]!)) keep.add(i);
    if (n.opType === 'MatMulNBits' && graphInputs.has(n.input[1]!)) keep.add(i);
    if (n.opType === 'Pow') {
      // RMSNorm: Pow → ReduceMean → Add → Sqrt → Div(x, ·).
      const mean = sole(n.output[0]!, 'ReduceMean');
      const add = mean === undefined ? undefined : sole(nodes[mean]!.output[0]!, 'Add');
      const sqrt = add === undefined ? undefined : sole(nodes[add]!.output[0]!, 'Sqrt');
      const div = sqrt === undefined ? undefined : sole(nodes[sqrt]!.output[0]!, 'Div');
      if (div !== undefined && nodes[div]!.input[0] === n.input[0]) [add!, sqrt!, div].forEach((j) => keep.add(j));
    }
  });
  /** Adds `start` and its float-producing ancestors; a product is added but its inputs are not when `stopAtProducts`. */
  const keepAncestors = (start: number, stopAtProducts: boolean) => {
    const stack = [start];
    while (stack.length) {
      const i = stack.pop()!;
      keep.add(i);
      if (stopAtProducts && PRODUCTS.has(nodes[i]!.opType)) continue;
      for (const v of nodes[i]!.input) {
        const p = producer.get(v);
        if (p !== undefined && types.get(v) === FLOAT && !keep.has(p)) stack.push(p);
      }
    }
  };
  nodes.forEach((n, i) => {
    if (n.opType === 'Cos' || n.opType === 'Sin') keepAncestors(i, false);
    if (options.float32Scores && n.opType === 'Softmax') keepAncestors(i, true);
  });
  return keep;
}

/** float32 values → IEEE half bits, round to nearest even (±Infinity stays infinite; beyond 65504 becomes ±Infinity). */
export function toFloat16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]!);
  return out;
}

function float16Weight(w: WeightSource): WeightSource {
  return {
    name: w.name,
    dims: w.dims,
    dataType: FLOAT16,
    read: () => toFloat16Bits(w.read() as Float32Array),
  };
}

/** Rewrites the graph in place: float16 activations, float32 kept spots, float32 inputs and outputs. */
export function convertToFloat16(parts: GraphParts, options: Float16Options = {}): void {
  const types = elementTypes(parts);
  const keep = float32Nodes(parts, options);
  if (options.emulate) return roundThroughFloat16(parts, types, keep);
  const isFloat = (v: string) => types.get(v) === FLOAT;
  const wanted = (i: number) => (keep.has(i) ? FLOAT : FLOAT16);

  // Which precisions each float initializer is read in.
  const readAs = new Map<string, Set<number>>();
  parts.nodes.forEach((n, i) => {
    if (TYPE_AGNOSTIC_INPUTS.has(n.opType)) return;
    for (const v of n.input) if (isFloat(v)) readAs.set(v, (readAs.get(v) ?? new Set()).add(wanted(i)));
  });
  /** Current element type of each float value after the pass (graph inputs stay float32). */
  const current = new Map<string, number>();
  /** Converted copies: `${value}|${type}` → name. */
  const copies = new Map<string, string>();
  for (const v of parts.inputs) current.set(v.name, v.type.tensorType.elemType);
  parts.weights.forEach((w, k) => {
    if ((w.dataType ?? FLOAT) !== FLOAT || !readAs.get(w.name)?.has(FLOAT16)) return current.set(w.name, FLOAT);
    // Large: one copy, in float16; a float32 reader (none in the decoder) would get a Cast.
    parts.weights[k] = float16Weight(w);
    current.set(w.name, FLOAT16);
  });
  for (const c of [...parts.constants]) {
    if (c.dataType !== FLOAT) continue;
    current.set(c.name, FLOAT);
    if (!readAs.get(c.name)?.has(FLOAT16)) continue;
    const raw = c.rawData!;
    const bits = toFloat16Bits(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)));
    const half = { ...c, dataType: FLOAT16, rawData: new Uint8Array(bits.buffer) };
    if (readAs.get(c.name)!.has(FLOAT)) {
      // Small: read in both precisions, so keep both.
      half.name = `${c.name}/fp16`;
      parts.constants.push(half);
      copies.set(`${c.name}|${FLOAT16}`, half.name);
    } else {
      Object.assign(c, half);
      current.set(c.name, FLOAT16);
    }
  }

  const rewritten: NodeJson[] = [];
  const as = (value: string, type: number): string => {
    if (current.get(value) === type) return value;
    const key = `${value}|${type}`;
    let name = copies.get(key);
    if (!name) {
      name = `${value}/${type === FLOAT16 ? 'fp16' : 'fp32'}`;
      rewritten.push(castNode(`${name}/cast`, value, name, type));
      copies.set(key, name);
      current.set(name, type);
    }
    return name;
  };
  parts.nodes.forEach((n, i) => {
    const type = wanted(i);
    const node = { ...n };
    if (!TYPE_AGNOSTIC_INPUTS.has(n.opType)) node.input = n.input.map((v) => (v && isFloat(v) ? as(v, type) : v));
    if (n.opType === 'Cast' && castTarget(n) === FLOAT && type === FLOAT16) {
      node.attribute = n.attribute.map((a) => (a.name === 'to' ? { ...a, i: FLOAT16 } : a));
    }
    for (const o of n.output) if (isFloat(o)) current.set(o, type);
    rewritten.push(node);
  });
  parts.nodes.splice(0, parts.nodes.length, ...rewritten);
}

function castNode(name: string, input: string, output: string, to: number): NodeJson {
  return {
    name,
    opType: 'Cast',
    input: [input],
    output: [output],
    attribute: [{ name: 'to', type: AttributeType.INT, i: to }],
  };
}

/** `emulate`: float32 graph, values rounded to fp16 wherever the real pass would store them in fp16. */
function roundThroughFloat16(parts: GraphParts, types: Map<string, number>, keep: Set<number>): void {
  const isFloat = (v: string) => types.get(v) === FLOAT;
  const readInFloat16 = new Set<string>();
  parts.nodes.forEach((n, i) => {
    if (!keep.has(i) && !TYPE_AGNOSTIC_INPUTS.has(n.opType))
      n.input.filter(isFloat).forEach((v) => readInFloat16.add(v));
  });
  const rounded = (values: Float32Array) => {
    const bits = toFloat16Bits(values);
    return Float32Array.from(bits, (h) => f16BitsToF32(h));
  };
  parts.weights.forEach((w, k) => {
    if ((w.dataType ?? FLOAT) === FLOAT && readInFloat16.has(w.name))
      parts.weights[k] = { ...w, read: () => rounded(w.read() as Float32Array) };
  });
  for (const c of parts.constants) {
    if (c.dataType !== FLOAT || !readInFloat16.has(c.name)) continue;
    const raw = c.rawData!;
    c.rawData = new Uint8Array(
      rounded(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))).buffer,
    );
  }
  const rewritten: NodeJson[] = [];
  const roundTrip = (value: string, from: string) => {
    rewritten.push(castNode(`${value}/to_fp16`, from, `${value}/fp16`, FLOAT16));
    rewritten.push(castNode(`${value}/to_fp32`, `${value}/fp16`, value, FLOAT));
  };
  // Graph inputs read in fp16 are renamed at their readers: the inputs themselves keep their public names.
  const inputNames = new Set(parts.inputs.filter((v) => readInFloat16.has(v.name)).map((v) => v.name));
  for (const name of inputNames) roundTrip(`${name}/rounded`, name);
  parts.nodes.forEach((n, i) => {
    if (keep.has(i)) return rewritten.push(n);
    const input = n.input.map((v) => (inputNames.has(v) && !TYPE_AGNOSTIC_INPUTS.has(n.opType) ? `${v}/rounded` : v));
    const output = n.output.map((o) => (isFloat(o) ? `${o}/exact` : o));
    rewritten.push({ ...n, input, output });
    n.output.forEach((o, k) => isFloat(o) && roundTrip(o, output[k]!));
  });
  parts.nodes.splice(0, parts.nodes.length, ...rewritten);
}
