/**
 * Grouped-query attention over a repository block stored in onnxruntime's `MatMulNBits` layout (com.microsoft),
 * so that each product with the block is one native dequantize-and-multiply node instead of an unpack chain.
 *
 * MatMulNBits computes Y = A · dequant(B)ᵀ with B [N, K] quantized in blocks of `block_size` along the reduction
 * axis K: B uint8 [N, K/bs, bs·b/8] (codes low bits first), scales and zero points float [N, K/bs],
 * dequant = (code − zero)·scale. For the block that means (layout: src/cache/fused):
 *   scores  = (q ⊙ s)·K̃ᵀ + q·μ  B = (keys − μ) ÷ s, per token over `keyBlock` channels (N = Sc, K = d)
 *   context = P · V           B = valuesᵀ, per channel over blocks of `valueBlock` tokens  (N = d, K = Sc)
 * with μ the keys' per-channel means over each value block of slots (stored fp16; q·μ is one small MatMul per
 * head, broadcast over the block's slots) and s the calibrated per-channel smoothing vector (SmoothAttention):
 * keys centered and divided by it lose their outlier channels, queries multiplied by it keep q·kᵀ unchanged.
 *
 * What onnxruntime-node 1.30 accepts on CPU (test/cache/fused-matmulnbits.test.ts): B, scales and zero points
 * as graph inputs, yes; bits 2, 4 and 8 (3 is refused; 8 only with uint8 zero points); block_size 16, 32, 64, 128
 * or 256; scales of A's type only (float32 here, no fp16); float zero points at 2 and 4 bits, 3–5× faster than
 * uint8 or absent ones (one thread, B [16384, 64] at 2 bits: 0.7 ms against 3.8 and 2.4 ms; a float32 MatMul of
 * the same size takes 0.5–0.7 ms); A batched ([G, T, K]) against one B. With B an input there is no prepacking: each run dequantizes B into a
 * temporary float buffer and calls SGEMM, inside one threaded kernel, so one head's block does exist at full
 * precision for the duration of one node. N and K are ATTRIBUTES checked against the inputs' shapes, so the
 * block's token capacity Sc is fixed per graph (`capacity`, a shape class; padding slots are masked by the bias).
 *
 * Inputs per layer i and kv head h (16-bit layers take raw float32 keys/values instead, plain MatMul):
 *   fused_key_codes.{i}.{h} uint8 [Sc, d/kb, kb·b/8], fused_key_scale/zero.{i}.{h} float [Sc, d/kb],
 *   fused_key_smooth.{i} float [KV, d], fused_key_center.{i}.{h} float [d, Sc/vb] (with `centerKeys`);
 *   fused_value_codes.{i}.{h} uint8 [d, Sc/vb, vb·b/8], fused_value_scale/zero.{i}.{h} float [d, Sc/vb];
 *   fused_key_raw.{i}.{h} / fused_value_raw.{i}.{h} float [Sc, d] (16 bits);
 *   fused_bias.{i} float [KV, Sc] (−inf on padding), and the shared ape_inverse_temperature [1].
 * One input per head, not a head axis: slicing a head out of a shared input would copy the block every step.
 */
import { hadamardMatrix } from '../src/cache/fused/rotation';
import type { AttentionShape, BlockAttention } from './attention';
import type { GraphBuilder } from './graph-builder';
import { TensorDataType } from './onnx-proto';

/**
 * The cache's bit widths; `checkFusedLayout` refuses 8: with B a graph input, onnxruntime 1.30 dequantizes
 * float-zero-point blocks at 2 and 4 bits only ("Only 2b and 4b quantization is supported for unpacked compute"),
 * and an integer zero point cannot hold the asymmetric minimum the cache stores.
 */
export type FusedBits = 2 | 4 | 8 | 16;

export interface FusedLayout {
  keyBits: FusedBits[];
  valueBits: FusedBits[];
  /** Channels per key block (MatMulNBits block_size over d). */
  keyBlock: number;
  /** Tokens per value block (MatMulNBits block_size over Sc). */
  valueBlock: number;
  /** Token slots per layer (Sc): static, since MatMulNBits takes N and K as attributes. */
  capacity: number[];
  /** Keys are stored minus per-channel means over each value block of slots; the graph adds q·μ back. */
  centerKeys: boolean;
  /**
   * Quantized keys and values are stored Hadamard-rotated (src/cache/fused/rotation.ts): queries are multiplied by
   * H before the key product and the block's context by H after the value product (H = Hᵀ = H⁻¹).
   */
  rotate?: boolean;
}

export const MATMUL_NBITS_BLOCK_SIZES: readonly number[] = [16, 32, 64, 128, 256];

/** Throws on a layout MatMulNBits (onnxruntime 1.30, CPU) would refuse at session creation or at run time. */
export function checkFusedLayout(layout: FusedLayout, numLayers: number, headDim: number): void {
  const { keyBlock, valueBlock } = layout;
  if (!MATMUL_NBITS_BLOCK_SIZES.includes(keyBlock) || !MATMUL_NBITS_BLOCK_SIZES.includes(valueBlock)) {
    throw new RangeError(`MatMulNBits block sizes are ${MATMUL_NBITS_BLOCK_SIZES}, got ${keyBlock}/${valueBlock}`);
  }
  if (headDim % keyBlock !== 0) throw new RangeError(`headDim ${headDim} is not a multiple of keyBlock ${keyBlock}`);
  for (const list of [layout.keyBits, layout.valueBits, layout.capacity]) {
    if (list.length !== numLayers) throw new RangeError(`fused layout needs one entry per layer (${numLayers})`);
  }
  for (const bits of [...layout.keyBits, ...layout.valueBits]) {
    if (bits !== 2 && bits !== 4 && bits !== 16)
      throw new RangeError(`fused layout stores 2, 4 or 16 bits, got ${bits}`);
  }
  for (const sc of layout.capacity) {
    if (!Number.isSafeInteger(sc) || sc <= 0 || sc % valueBlock !== 0) {
      throw new RangeError(`capacity ${sc} must be a positive multiple of valueBlock ${valueBlock}`);
    }
  }
}

/** The graph inputs of one layer's block, declared on `g`. */
export interface FusedBlock {
  layer: number;
  keyBits: FusedBits;
  valueBits: FusedBits;
  capacity: number;
  keyBlock: number;
  valueBlock: number;
  centerKeys: boolean;
  rotate?: boolean;
  bias: string;
  inverseTemperature: string;
}

export function fusedBlockInputs(
  g: GraphBuilder,
  layer: number,
  layout: FusedLayout,
  inverseTemperature: string,
  kvHeads: number,
): FusedBlock {
  const capacity = layout.capacity[layer]!;
  return {
    layer,
    keyBits: layout.keyBits[layer]!,
    valueBits: layout.valueBits[layer]!,
    capacity,
    keyBlock: layout.keyBlock,
    valueBlock: layout.valueBlock,
    centerKeys: layout.centerKeys,
    rotate: layout.rotate,
    bias: g.input(`fused_bias.${layer}`, TensorDataType.FLOAT, [kvHeads, capacity]),
    inverseTemperature,
  };
}

const { FLOAT, UINT8 } = TensorDataType;

/** The normalized Hadamard matrix [d, d] as a shared graph constant. */
function hadamardConstant(g: GraphBuilder, d: number): string {
  return g.constant(hadamardMatrix(d), FLOAT, [d, d]);
}

/** One head's A·dequant(B)ᵀ, A [.., K] → [.., N], over the inputs `fused_{kind}_{codes,scale,zero}.{layer}.{head}`. */
function nbitsProduct(
  g: GraphBuilder,
  a: string,
  input: { kind: 'key' | 'value'; layer: number; head: number },
  bits: 2 | 4,
  n: number,
  k: number,
  blockSize: number,
): string {
  const blocks = k / blockSize;
  const name = (part: string) => `fused_${input.kind}_${part}.${input.layer}.${input.head}`;
  const codes = g.input(name('codes'), UINT8, [n, blocks, (blockSize * bits) / 8]);
  const scale = g.input(name('scale'), FLOAT, [n, blocks]);
  const zero = g.input(name('zero'), FLOAT, [n, blocks]);
  return g.op('MatMulNBits', [a, codes, scale, zero], { K: k, N: n, bits, block_size: blockSize }, 'com.microsoft');
}

/** [KV, G, T, x] → KV tensors [G, T, x] (one Split, no per-head Gather). */
function splitHeads(g: GraphBuilder, x: string, kvHeads: number): string[] {
  const parts = kvHeads === 1 ? [x] : g.opN('Split', [x, g.ints(Array(kvHeads).fill(1))], kvHeads, { axis: 0 });
  return parts.map((p) => g.op('Squeeze', [p, g.ints([0])]));
}

/** Stacks per-head [G, T, x] results into [KV, G, T, x]. */
function stackHeads(g: GraphBuilder, perHead: string[]): string {
  const unsqueezed = perHead.map((x) => g.op('Unsqueeze', [x, g.ints([0])]));
  return unsqueezed.length === 1 ? unsqueezed[0]! : g.op('Concat', unsqueezed, { axis: 0 });
}

/** Scores of the queries over the block, [KV, G, T, Sc]. `queries` [KV, G, T, d] already carry 1/√d. */
export function fusedBlockScores(g: GraphBuilder, shape: AttentionShape, queries: string, block: FusedBlock): string {
  const { numKvHeads: KV, headDim: d } = shape;
  const { layer: i, capacity: sc, keyBits: bits } = block;
  if (bits === 16) {
    const perHead = splitHeads(g, queries, KV).map((q, h) => {
      const raw = g.input(`fused_key_raw.${i}.${h}`, FLOAT, [sc, d]);
      return g.op('MatMul', [q, g.op('Transpose', [raw], { perm: [1, 0] })]);
    });
    return stackHeads(g, perHead);
  }
  // q ⊙ s: the smoothing the stored keys were divided by, [KV, d] broadcast over G and T.
  const smooth = g.input(`fused_key_smooth.${i}`, FLOAT, [KV, d]);
  const smoothed = splitHeads(g, g.op('Mul', [queries, g.op('Unsqueeze', [smooth, g.ints([1, 2])])]), KV);
  const plain = block.centerKeys ? splitHeads(g, queries, KV) : [];
  const vb = block.valueBlock;
  const rotation = block.rotate ? hadamardConstant(g, d) : null;
  const perHead = smoothed.map((q0, h) => {
    const q = rotation ? g.op('MatMul', [q0, rotation]) : q0;
    const scores = nbitsProduct(g, q, { kind: 'key', layer: i, head: h }, bits as 2 | 4, sc, d, block.keyBlock);
    if (!block.centerKeys) return scores;
    // + q·μ: one offset per query and value block of slots, broadcast over the block's vb slots.
    const centers = g.input(`fused_key_center.${i}.${h}`, FLOAT, [d, sc / vb]);
    const offsets = g.op('Unsqueeze', [g.op('MatMul', [plain[h]!, centers]), g.ints([3])]); // [G, T, Sc/vb, 1]
    const grouped = g.op('Reshape', [scores, g.ints([0, 0, sc / vb, vb])]);
    return g.op('Reshape', [g.op('Add', [grouped, offsets]), g.ints([0, 0, sc])]);
  });
  return stackHeads(g, perHead);
}

/** P·V over the block: probabilities [KV, G, T, Sc] → context [KV, G, T, d]. */
export function fusedBlockContext(g: GraphBuilder, shape: AttentionShape, probs: string, block: FusedBlock): string {
  const { numKvHeads: KV, headDim: d } = shape;
  const { layer: i, capacity: sc, valueBits: bits } = block;
  const rotation = block.rotate && bits !== 16 ? hadamardConstant(g, d) : null;
  const perHead = splitHeads(g, probs, KV).map((p, h) => {
    if (bits === 16) return g.op('MatMul', [p, g.input(`fused_value_raw.${i}.${h}`, FLOAT, [sc, d])]);
    const rotated = nbitsProduct(g, p, { kind: 'value', layer: i, head: h }, bits as 2 | 4, d, sc, block.valueBlock);
    return rotation ? g.op('MatMul', [rotated, rotation]) : rotated;
  });
  return stackHeads(g, perHead);
}

/** The fused block as kernels/attention.ts reads any repository block. */
export function fusedBlockAttention(g: GraphBuilder, shape: AttentionShape, block: FusedBlock): BlockAttention {
  return {
    scores: (queries) => fusedBlockScores(g, shape, queries, block),
    context: (probs) => fusedBlockContext(g, shape, probs, block),
    bias: block.bias,
    inverseTemperature: block.inverseTemperature,
  };
}
