/**
 * The Qwen2/Llama decoder as one ONNX graph, read top to bottom like the forward pass it is:
 * embed → per layer [norm → qkv → rotary → attention over past+chunk → o_proj → residual → norm → SwiGLU →
 * residual] → pick the positions that need logits → final norm → LM head.
 *
 * Inputs (T = chunk length, P = past length, N = positions wanting logits):
 *   input_ids int64 [T], position_ids int64 [T], attention_bias float [T, P+T], logit_index int64 [N],
 *   past_key.{i} / past_value.{i} float [P, kvHeads, headDim] per layer.
 * Outputs: logits [N, vocab]; present_key.{i} / present_value.{i} [T, kvHeads, headDim] (the chunk's own,
 *   keys after rotary); hidden.{i} [T, hidden] when `exposeHiddenStates` (i = 0 is the embeddings).
 */
import type { ModelConfig } from '../src/engine/model-config';
import { groupedQueryAttention } from './attention';
import { GraphBuilder } from './graph-builder';
import { applyRotary, linear, rmsNorm, rotaryTables, swiGlu } from './layers';
import { TensorDataType } from './onnx-proto';

export interface DecoderGraphOptions {
  /** Debug/test variant: also output the residual stream after every layer. */
  exposeHiddenStates: boolean;
}

/** What the builder needs from a checkpoint: which tensors exist and their float32 data. */
export interface WeightReader {
  has(name: string): boolean;
  read(name: string): Float32Array;
}

const FLOAT = TensorDataType.FLOAT;
const INT64 = TensorDataType.INT64;

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
  const { hiddenSize, numHeads: H, numKvHeads: KV, headDim: d, intermediateSize, rmsNormEps: eps } = config;
  const g = new GraphBuilder('repokv-decoder');
  const param = (name: string, dims: number[]) => g.weight({ name, dims, read: () => weights.read(name) });
  const fused = (name: string, parts: string[], dims: number[]) =>
    g.weight({ name, dims, read: () => concatRows(parts.map((p) => weights.read(p))) });

  const inputIds = g.input('input_ids', INT64, ['T']);
  const positionIds = g.input('position_ids', INT64, ['T']);
  const bias = g.input('attention_bias', FLOAT, ['T', 'S']);
  const logitIndex = g.input('logit_index', INT64, ['N']);

  const embed = param('model.embed_tokens.weight', [config.vocabSize, hiddenSize]);
  let x = g.op('Gather', [embed, inputIds], { axis: 0 }); // [T, hidden]
  if (options.exposeHiddenStates) g.output('hidden.0', x, FLOAT, ['T', hiddenSize]);
  const rope = rotaryTables(g, positionIds, d, config.ropeTheta);

  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    x = g.within(p, () => {
      const h = rmsNorm(g, x, param(`${p}.input_layernorm.weight`, [hiddenSize]), eps);
      const proj = ['q_proj', 'k_proj', 'v_proj'].map((n) => `${p}.self_attn.${n}`);
      const qkvRows = (H + 2 * KV) * d;
      const qkvBias = weights.has(`${proj[0]}.bias`)
        ? fused(
            `${p}.self_attn.qkv_proj.bias`,
            proj.map((n) => `${n}.bias`),
            [qkvRows],
          )
        : undefined;
      const qkv = linear(
        g,
        h,
        fused(
          `${p}.self_attn.qkv_proj.weight`,
          proj.map((n) => `${n}.weight`),
          [qkvRows, hiddenSize],
        ),
        qkvBias,
      );
      const [qFlat, kFlat, vFlat] = g.opN('Split', [qkv, g.ints([H * d, KV * d, KV * d])], 3, { axis: 1 });
      const q = applyRotary(g, g.op('Reshape', [qFlat!, g.ints([0, H, d])]), rope, d); // [T, H, d]
      const k = applyRotary(g, g.op('Reshape', [kFlat!, g.ints([0, KV, d])]), rope, d); // [T, KV, d]
      const v = g.op('Reshape', [vFlat!, g.ints([0, KV, d])]);
      g.output(`present_key.${i}`, k, FLOAT, ['T', KV, d]);
      g.output(`present_value.${i}`, v, FLOAT, ['T', KV, d]);
      const past = {
        keys: g.input(`past_key.${i}`, FLOAT, ['P', KV, d]),
        values: g.input(`past_value.${i}`, FLOAT, ['P', KV, d]),
      };
      const attn = groupedQueryAttention(g, { numHeads: H, numKvHeads: KV, headDim: d }, q, k, v, past, bias);
      const oBias = weights.has(`${p}.self_attn.o_proj.bias`)
        ? param(`${p}.self_attn.o_proj.bias`, [hiddenSize])
        : undefined;
      const afterAttn = g.op('Add', [
        x,
        linear(g, attn.output, param(`${p}.self_attn.o_proj.weight`, [hiddenSize, H * d]), oBias),
      ]);

      const h2 = rmsNorm(g, afterAttn, param(`${p}.post_attention_layernorm.weight`, [hiddenSize]), eps);
      const mlp = ['gate_proj', 'up_proj'].map((n) => `${p}.mlp.${n}`);
      const gateUp = {
        weight: fused(
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
        weight: param(`${p}.mlp.down_proj.weight`, [hiddenSize, intermediateSize]),
        bias: weights.has(`${p}.mlp.down_proj.bias`) ? param(`${p}.mlp.down_proj.bias`, [hiddenSize]) : undefined,
      };
      return g.op('Add', [afterAttn, swiGlu(g, h2, gateUp, down, intermediateSize)]);
    });
    if (options.exposeHiddenStates) g.output(`hidden.${i + 1}`, x, FLOAT, ['T', hiddenSize]);
  }

  const last = g.op('Gather', [x, logitIndex], { axis: 0 }); // [N, hidden]
  const normed = rmsNorm(g, last, param('model.norm.weight', [hiddenSize]), eps);
  const head = config.tieWordEmbeddings ? embed : param('lm_head.weight', [config.vocabSize, hiddenSize]);
  g.output('logits', linear(g, normed, head), FLOAT, ['N', config.vocabSize]);
  return g;
}
