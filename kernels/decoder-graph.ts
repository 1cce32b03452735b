/**
 * The Qwen2/Llama decoder as one ONNX graph, read top to bottom like the forward pass it is:
 * embed → per layer [norm → qkv → rotary → attention over past (+ repository block) + chunk → o_proj → residual →
 * norm → SwiGLU → residual] → pick the positions that need logits → final norm → LM head. Norms, residual adds and
 * rotary come from kernels/decoder-ops.ts, as plain ONNX operators (the exact reference) or onnxruntime's contrib ones.
 *
 * Inputs (T = chunk length, P = past length, N = positions wanting logits):
 *   input_ids int64 [T], position_ids int64 [T], attention_bias float [T, P+T], logit_index int64 [N],
 *   past_key.{i} / past_value.{i} float [kvHeads, P, headDim] per layer (head-major: read in place, see attention.ts);
 *   with `compressed`: the repository block per layer (kernels/dequantize.ts layout), compressed_bias.{i}
 *   float [kvHeads, Sc_i], and ape_inverse_temperature float [1].
 * Outputs: logits [N, vocab]; present_key.{i} / present_value.{i} [T, kvHeads, headDim] (the chunk's own,
 *   keys after rotary); hidden.{i} [T, hidden] when `exposeHiddenStates` (i = 0 is the embeddings);
 *   with `scoringWindow` W: window_probs.{i} [kvHeads, G, W, P+T] (attention of the last W queries),
 *   key_attention_sums.{i} [kvHeads, G, P+T] (attention each key received from all queries, for H2O) and
 *   value_norms.{i} [kvHeads, G, T] (‖v·W_Oᵀ‖₁ per query head, CriticalKV) — the eviction scorer's inputs —
 *   and prerope_key.{i} [T, kvHeads, headDim] (keys before rotary, for caches that quantize those).
 */
import type { ModelConfig } from '../src/engine/model-config';
import {
  type AttentionDims,
  attentionDims,
  type CompressedBlock,
  dequantizedBlockAttention,
  groupedQueryAttention,
} from './attention';
import { appendToPast, greedyToken, PRESENT_LAYOUT } from './device-state';
import { dequantizeKeys, dequantizeValues, type StoredBits } from './dequantize';
import { checkFusedLayout, type FusedLayout, fusedBlockAttention, fusedBlockInputs } from './fused-attention';
import { GraphBuilder } from './graph-builder';
import { decoderOps, type OperatorSet } from './decoder-ops';
import { swiGlu } from './layers';
import { TensorDataType } from './onnx-proto';
import { projection, type WeightFormat } from './quantized-linear';

export interface CompressedLayout {
  /** Bits of keys and values per layer (16 = raw float32). */
  keyBits: StoredBits[];
  valueBits: StoredBits[];
  /** Tokens per key group and channels per value group. */
  keyGroup: number;
  valueGroup: number;
  /**
   * Rotate the dequantized keys by per-slot positions (input compressed_key_position.{i} int64 [KV, Sc]): the
   * absolute position for keys stored before rotary (KVQuant), or the move for post-rotary keys placed at
   * new positions (the sequential layout). Rotations compose, so a move is exact.
   */
  rotateKeys: boolean;
}

export interface DecoderGraphOptions {
  /** Debug/test variant: also output the residual stream after every layer. */
  exposeHiddenStates: boolean;
  /** Segment prefill variant: output the eviction scorer's inputs for the last `scoringWindow` queries. */
  scoringWindow?: number;
  /** Query-time variant: attend over a compressed repository block too. */
  compressed?: CompressedLayout;
  /** Query-time variant: attend over a repository block in MatMulNBits layout (kernels/fused-attention.ts). */
  fused?: FusedLayout;
  /**
   * Projection and LM-head weights: absent = the checkpoint's float32 (the exact reference graph); 4 or 8 bits =
   * MatMulNBits blocks quantized when the graph is built (kernels/weight-quant.ts). The embedding Gather stays
   * float32 either way: it reads T rows per step, so quantizing it saves memory but no time.
   */
  weights?: WeightFormat;
  /**
   * Norms and rotary as plain ONNX operators (absent or 'onnx': the exact reference graph) or as onnxruntime's
   * fused contrib operators ('contrib'; kernels/decoder-ops.ts). The rest of the graph is the same either way.
   */
  operators?: OperatorSet;
  /**
   * State that stays on the device (kernels/device-state.ts): present_key/value.{i} are the full present (past
   * and chunk joined, [P+T, kvHeads, headDim]) to be fed back as the next past, and next_token int64 [N] is the
   * greedy choice per logits row.
   */
  deviceState?: boolean;
}

/** What the builder needs from a checkpoint: which tensors exist and their float32 data. */
export interface WeightReader {
  has(name: string): boolean;
  read(name: string): Float32Array;
}

const FLOAT = TensorDataType.FLOAT;
const FLOAT16 = TensorDataType.FLOAT16;
const INT64 = TensorDataType.INT64;
const UINT8 = TensorDataType.UINT8;

/** Row-wise concatenation of [out_i, in] matrices (or bias vectors) into one, for a single fused Gemm. */
function concatRows(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function buildDecoderGraph(
  config: ModelConfig,
  weights: WeightReader,
  options: DecoderGraphOptions,
): GraphBuilder {
  const { hiddenSize, numHeads: H, numKvHeads: KV, headDim: d, intermediateSize } = config;
  const G = H / KV;
  const g = new GraphBuilder('repokv-decoder');
  const param = (name: string, dims: number[]) => g.weight({ name, dims, read: () => weights.read(name) });
  const optionalParam = (name: string, dims: number[]) => (weights.has(name) ? param(name, dims) : undefined);
  const fused = (name: string, parts: string[], dims: number[]) =>
    g.weight({ name, dims, read: () => concatRows(parts.map((p) => weights.read(p))) });
  const format = options.weights ?? { bits: 32, accuracyLevel: 0 };
  const protect = format.protectedLayers ?? 0;
  const layerFormat = (i: number): WeightFormat =>
    format.bits === 4 && (i < protect || i >= config.numLayers - protect) ? { ...format, bits: 8 } : format;
  let currentFormat = format;
  const proj = (name: string, parts: string[], dims: [number, number]) =>
    projection(g, name, dims, () => concatRows(parts.map((p) => weights.read(p))), currentFormat);

  const inputIds = g.input('input_ids', INT64, ['T']);
  const positionIds = g.input('position_ids', INT64, ['T']);
  const bias = g.input('attention_bias', FLOAT, ['T', 'S']);
  const logitIndex = g.input('logit_index', INT64, ['N']);
  if (options.fused) checkFusedLayout(options.fused, config.numLayers, d);
  const apeInverseTemperature =
    options.compressed || options.fused ? g.input('ape_inverse_temperature', FLOAT, [1]) : undefined;

  const embed = param('model.embed_tokens.weight', [config.vocabSize, hiddenSize]);
  const ops = decoderOps(g, options.operators ?? 'onnx', positionIds, config);
  // The residual stream is carried as residual + delta: the add happens inside the next norm (one fused node in
  // the contrib operator set), so the stream after layer i is materialized at layer i + 1's input norm.
  let residual = g.op('Gather', [embed, inputIds], { axis: 0 }); // [T, hidden]
  let delta: string | undefined;

  /** The repository block of layer i, dequantized in-graph from its stored form. */
  const compressedBlock = (i: number): CompressedBlock | undefined => {
    const c = options.compressed;
    if (!c) return undefined;
    const stored = (kind: 'key' | 'value', bits: StoredBits, scaleDims: (number | string)[]) =>
      bits === 16
        ? { raw: g.input(`compressed_${kind}_raw.${i}`, FLOAT, [KV, `Sc${i}`, d]) }
        : {
            codes: g.input(`compressed_${kind}_codes.${i}`, UINT8, [KV, `Sc${i}`, (d * bits) / 8]),
            min: g.input(`compressed_${kind}_min.${i}`, FLOAT16, scaleDims),
            scale: g.input(`compressed_${kind}_scale.${i}`, FLOAT16, scaleDims),
          };
    const keyBits = c.keyBits[i]!;
    const valueBits = c.valueBits[i]!;
    let keys = dequantizeKeys(g, stored('key', keyBits, [KV, `Gc${i}`, d]), keyBits, KV, d, c.keyGroup);
    if (c.rotateKeys) {
      const slotPositions = g.input(`compressed_key_position.${i}`, INT64, [KV, `Sc${i}`]);
      keys = ops.rotateAt(keys, slotPositions);
    }
    return {
      keys,
      values: dequantizeValues(
        g,
        stored('value', valueBits, [KV, `Sc${i}`, d / c.valueGroup]),
        valueBits,
        KV,
        d,
        c.valueGroup,
      ),
      bias: g.input(`compressed_bias.${i}`, FLOAT, [KV, `Sc${i}`]),
      inverseTemperature: apeInverseTemperature!,
    };
  };

  let dims: AttentionDims | undefined; // shared by every layer, built with the first
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    currentFormat = layerFormat(i);
    [residual, delta] = g.within(p, (): [string, string] => {
      const { normed: h, sum: x } = ops.addNorm(residual, delta, param(`${p}.input_layernorm.weight`, [hiddenSize]));
      if (options.exposeHiddenStates) g.output(`hidden.${i}`, x, FLOAT, ['T', hiddenSize]);
      const projNames = ['q_proj', 'k_proj', 'v_proj'].map((n) => `${p}.self_attn.${n}`);
      const qkvRows = (H + 2 * KV) * d;
      const qkvBias = weights.has(`${projNames[0]}.bias`)
        ? fused(
            `${p}.self_attn.qkv_proj.bias`,
            projNames.map((n) => `${n}.bias`),
            [qkvRows],
          )
        : undefined;
      const qkvWeight = proj(
        `${p}.self_attn.qkv_proj.weight`,
        projNames.map((n) => `${n}.weight`),
        [qkvRows, hiddenSize],
      );
      const [qFlat, kFlat, vFlat] = g.opN('Split', [qkvWeight.apply(h, qkvBias), g.ints([H * d, KV * d, KV * d])], 3, {
        axis: 1,
      });
      const q = ops.rotateChunk(qFlat!, H); // [T, H, d]
      if (options.scoringWindow)
        g.output(`prerope_key.${i}`, g.op('Reshape', [kFlat!, g.ints([0, KV, d])]), FLOAT, ['T', KV, d]);
      const k = ops.rotateChunk(kFlat!, KV); // [T, KV, d]
      const v = g.op('Reshape', [vFlat!, g.ints([0, KV, d])]);
      const past = {
        keys: g.input(`past_key.${i}`, FLOAT, [KV, 'P', d]),
        values: g.input(`past_value.${i}`, FLOAT, [KV, 'P', d]),
      };
      if (options.deviceState) {
        // A copy of the whole past per step: cheap on a GPU, and why the CPU keeps the host path.
        const dims = PRESENT_LAYOUT.dims('S', KV, d);
        g.output(`present_key.${i}`, appendToPast(g, past.keys, k), FLOAT, dims);
        g.output(`present_value.${i}`, appendToPast(g, past.values, v), FLOAT, dims);
      } else {
        g.output(`present_key.${i}`, k, FLOAT, ['T', KV, d]);
        g.output(`present_value.${i}`, v, FLOAT, ['T', KV, d]);
      }
      const shape = { numHeads: H, numKvHeads: KV, headDim: d };
      dims ??= attentionDims(g, shape, past.keys, inputIds);
      const fusedBlock = options.fused && fusedBlockInputs(g, i, options.fused, apeInverseTemperature!, KV);
      const dequantized = compressedBlock(i);
      const block = fusedBlock
        ? fusedBlockAttention(g, shape, fusedBlock)
        : dequantized && dequantizedBlockAttention(g, dequantized);
      const attn = groupedQueryAttention(g, shape, dims, q, k, v, past, bias, block);
      const oWeight = proj(`${p}.self_attn.o_proj.weight`, [`${p}.self_attn.o_proj.weight`], [hiddenSize, H * d]);
      const oBias = optionalParam(`${p}.self_attn.o_proj.bias`, [hiddenSize]);
      const attnOut = oWeight.apply(attn.output, oBias);
      if (options.scoringWindow)
        scorerOutputs(g, i, attn.probs(), v, oWeight.floatWeight(), options.scoringWindow, { KV, G, d, hiddenSize });
      const post = param(`${p}.post_attention_layernorm.weight`, [hiddenSize]);
      const { normed: h2, sum: afterAttn } = ops.addNorm(x, attnOut, post);

      const mlp = ['gate_proj', 'up_proj'].map((n) => `${p}.mlp.${n}`);
      const gateUp = {
        weight: proj(
          `${p}.mlp.gate_up_proj.weight`,
          mlp.map((n) => `${n}.weight`),
          [2 * intermediateSize, hiddenSize],
        ),
        bias: weights.has(`${mlp[0]}.bias`)
          ? fused(
              `${p}.mlp.gate_up_proj.bias`,
              mlp.map((n) => `${n}.bias`),
              [2 * intermediateSize],
            )
          : undefined,
      };
      const down = {
        weight: proj(`${p}.mlp.down_proj.weight`, [`${p}.mlp.down_proj.weight`], [hiddenSize, intermediateSize]),
        bias: optionalParam(`${p}.mlp.down_proj.bias`, [hiddenSize]),
      };
      return [afterAttn, swiGlu(g, h2, gateUp, down, intermediateSize)];
    });
  }

  // Only the N rows that want logits are normed (and, with contrib operators, added).
  const final = ops.gatherNorm(
    residual,
    delta!,
    logitIndex,
    param('model.norm.weight', [hiddenSize]),
    options.exposeHiddenStates,
  );
  if (final.sum) g.output(`hidden.${config.numLayers}`, final.sum, FLOAT, ['T', hiddenSize]);
  const normed = final.normed;
  const headFormat = { ...format, bits: format.headBits ?? format.bits };
  const headName = config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  // A tied head at 32 bits is the embedding initializer itself (one copy); quantized, it is a second, smaller one.
  const head =
    config.tieWordEmbeddings && headFormat.bits === 32
      ? { apply: (v: string) => g.op('Gemm', [v, embed], { transB: 1 }) }
      : projection(g, headName, [config.vocabSize, hiddenSize], () => weights.read(headName), headFormat);
  const logits = head.apply(normed);
  g.output('logits', logits, FLOAT, ['N', config.vocabSize]);
  if (options.deviceState) g.output('next_token', greedyToken(g, logits), INT64, ['N']);
  return g;
}

/** The eviction scorer's raw inputs for layer i (see the file header). */
function scorerOutputs(
  g: GraphBuilder,
  i: number,
  probs: string,
  v: string,
  oWeight: string,
  window: number,
  dims: { KV: number; G: number; d: number; hiddenSize: number },
): void {
  const { KV, G, d, hiddenSize } = dims;
  const windowProbs = g.op('Slice', [probs, g.ints([-window]), g.ints([Number.MAX_SAFE_INTEGER]), g.ints([2])]);
  g.output(`window_probs.${i}`, windowProbs, FLOAT, [KV, G, 'W', 'S']);
  g.output(`key_attention_sums.${i}`, g.op('ReduceSum', [probs, g.ints([2])], { keepdims: 0 }), FLOAT, [KV, G, 'S']);
  // ‖v·W_O,hᵀ‖₁: each token's value carried through query head h's slice of the output projection.
  const perHeadOut = g.op('Transpose', [g.op('Reshape', [oWeight, g.ints([hiddenSize, KV, G, d])])], {
    perm: [1, 2, 3, 0],
  }); // [KV, G, d, hidden]
  const valuesByHead = g.op('Unsqueeze', [g.op('Transpose', [v], { perm: [1, 0, 2] }), g.ints([1])]); // [KV, 1, T, d]
  const projected = g.op('MatMul', [valuesByHead, perHeadOut]); // [KV, G, T, hidden]
  const norms = g.op('ReduceSum', [g.op('Abs', [projected]), g.ints([3])], { keepdims: 0 });
  g.output(`value_norms.${i}`, norms, FLOAT, [KV, G, 'T']);
}
