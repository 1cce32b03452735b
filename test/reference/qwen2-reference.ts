/**
 * A plain, deliberately slow reference forward pass for Qwen2/Llama decoders with Hugging Face semantics, used by
 * the tests to check the ONNX path layer by layer. It reads top to bottom like one function: no KV cache, no
 * batching, no cleverness. Every sum is accumulated in float64 and the residual stream is kept in float64; results
 * are handed back as float32. Only for small inputs.
 */
import type { ModelConfig } from '../../src/engine/model-config';

/** Returns a tensor by its Hugging Face name, as float32, row-major (Linear weights are [out, in]). */
export type WeightLookup = (name: string) => Float32Array;

export interface ReferenceOptions {
  /**
   * The rotary position of each token (default 0..n-1). The causal mask always follows the order of `ids`
   * (token i sees tokens 0..i), as in Hugging Face, whatever the positions are.
   */
  positions?: number[];
  /** The LM head to use instead of the checkpoint's (a tied head quantized apart from the embedding it shares). */
  head?: Float32Array;
}

export interface ReferenceResult {
  /** logits[t] = the vocabulary logits after token t. */
  logits: Float32Array[];
  /** hidden[0][t] = embedding of token t; hidden[l + 1][t] = residual stream after layer l (before the final norm). */
  hidden: Float32Array[][];
  /** keys[l][t] = post-rotary key of token t in layer l, [numKvHeads * headDim] (head-major). */
  keys: Float32Array[][];
  /** values[l][t] = value of token t in layer l, [numKvHeads * headDim] (head-major). */
  values: Float32Array[][];
}

/** y = W x + b, with W stored [out, in] row-major (nn.Linear). */
function linear(x: Float64Array, w: Float32Array, outDim: number, bias: Float32Array | undefined): Float64Array {
  const inDim = x.length;
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let sum = bias ? bias[o] : 0;
    const row = o * inDim;
    for (let i = 0; i < inDim; i++) sum += w[row + i] * x[i];
    y[o] = sum;
  }
  return y;
}

/** RMSNorm: x / sqrt(mean(x^2) + eps) * w. */
function rmsNorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let sumSq = 0;
  for (let i = 0; i < x.length; i++) sumSq += x[i] * x[i];
  const inv = 1 / Math.sqrt(sumSq / x.length + eps);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] * inv * w[i];
  return y;
}

/**
 * Rotary embedding, HF rotate_half convention, in place on every head of `x` ([heads * headDim]):
 * x' = x * cos + rotate_half(x) * sin, rotate_half([x1, x2]) = [-x2, x1], with cos/sin of pos * inv_freq[i]
 * (inv_freq[i] = 1 / theta^(2i / headDim)) repeated over both halves.
 */
export function applyRotary(x: Float64Array, heads: number, headDim: number, pos: number, theta: number): Float64Array {
  const half = headDim / 2;
  for (let i = 0; i < half; i++) {
    const angle = pos / Math.pow(theta, (2 * i) / headDim);
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    for (let h = 0; h < heads; h++) {
      const a = h * headDim + i; // first half
      const b = a + half; // second half
      const x1 = x[a];
      const x2 = x[b];
      x[a] = x1 * cos - x2 * sin;
      x[b] = x2 * cos + x1 * sin;
    }
  }
  return x;
}

const toF32 = (x: Float64Array): Float32Array => Float32Array.from(x);

export function referenceForward(
  config: ModelConfig,
  weights: WeightLookup,
  ids: number[],
  opts: ReferenceOptions = {},
): ReferenceResult {
  const d = config.hiddenSize;
  const nHeads = config.numHeads;
  const nKv = config.numKvHeads;
  const hd = config.headDim;
  const ff = config.intermediateSize;
  const vocab = config.vocabSize;
  const eps = config.rmsNormEps;
  const n = ids.length;
  const positions = opts.positions ?? ids.map((_, i) => i);
  if (positions.length !== n) throw new Error(`positions has ${positions.length} entries for ${n} ids`);
  if (nHeads % nKv !== 0) throw new Error(`numHeads ${nHeads} is not a multiple of numKvHeads ${nKv}`);
  if (hd % 2 !== 0) throw new Error(`headDim ${hd} is odd`);
  const group = nHeads / nKv; // query heads per kv head
  const scale = 1 / Math.sqrt(hd);
  const isLlama = config.architecture === 'LlamaForCausalLM';

  /** Fetches a tensor and checks its element count, so a layout mistake fails loudly instead of silently. */
  const get = (name: string, size: number): Float32Array => {
    const t = weights(name);
    if (t.length !== size) throw new Error(`${name}: expected ${size} elements, got ${t.length}`);
    return t;
  };

  // Token embeddings.
  const embed = get('model.embed_tokens.weight', vocab * d);
  let x: Float64Array[] = ids.map((id) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`token id ${id} out of range`);
    return Float64Array.from(embed.subarray(id * d, (id + 1) * d));
  });
  const hidden: Float32Array[][] = [x.map(toF32)];
  const keys: Float32Array[][] = [];
  const values: Float32Array[][] = [];

  for (let l = 0; l < config.numLayers; l++) {
    const w = (suffix: string, size: number) => get(`model.layers.${l}.${suffix}`, size);
    const b = (cond: boolean, suffix: string, size: number) => (cond ? w(suffix, size) : undefined);
    const [qDim, kvDim] = [nHeads * hd, nKv * hd];
    const inNorm = w('input_layernorm.weight', d);
    const wq = w('self_attn.q_proj.weight', qDim * d);
    const wk = w('self_attn.k_proj.weight', kvDim * d);
    const wv = w('self_attn.v_proj.weight', kvDim * d);
    const bq = b(config.attentionBias, 'self_attn.q_proj.bias', qDim);
    const bk = b(config.attentionBias, 'self_attn.k_proj.bias', kvDim);
    const bv = b(config.attentionBias, 'self_attn.v_proj.bias', kvDim);
    const wo = w('self_attn.o_proj.weight', d * qDim);
    // Qwen2 never has an o_proj bias; Llama's attention_bias covers o_proj too.
    const bo = b(config.attentionBias && isLlama, 'self_attn.o_proj.bias', d);
    const postNorm = w('post_attention_layernorm.weight', d);
    const wg = w('mlp.gate_proj.weight', ff * d);
    const wu = w('mlp.up_proj.weight', ff * d);
    const wd = w('mlp.down_proj.weight', d * ff);
    const bg = b(config.mlpBias, 'mlp.gate_proj.bias', ff);
    const bu = b(config.mlpBias, 'mlp.up_proj.bias', ff);
    const bd = b(config.mlpBias, 'mlp.down_proj.bias', d);

    // Attention input: norm, projections, rotary on q and k.
    const q: Float64Array[] = [];
    const k: Float64Array[] = [];
    const v: Float64Array[] = [];
    for (let t = 0; t < n; t++) {
      const h = rmsNorm(x[t], inNorm, eps);
      q.push(applyRotary(linear(h, wq, qDim, bq), nHeads, hd, positions[t], config.ropeTheta));
      k.push(applyRotary(linear(h, wk, kvDim, bk), nKv, hd, positions[t], config.ropeTheta));
      v.push(linear(h, wv, kvDim, bv));
    }
    keys.push(k.map(toF32));
    values.push(v.map(toF32));

    const next: Float64Array[] = [];
    for (let t = 0; t < n; t++) {
      // Causal GQA attention: query head h reads kv head floor(h / group) of tokens 0..t.
      const attn = new Float64Array(qDim);
      for (let h = 0; h < nHeads; h++) {
        const kvOff = Math.floor(h / group) * hd;
        const qOff = h * hd;
        const scores = new Float64Array(t + 1);
        let max = -Infinity;
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += q[t][qOff + i] * k[s][kvOff + i];
          scores[s] = dot * scale;
          if (scores[s] > max) max = scores[s];
        }
        let denom = 0;
        for (let s = 0; s <= t; s++) {
          scores[s] = Math.exp(scores[s] - max);
          denom += scores[s];
        }
        for (let s = 0; s <= t; s++) {
          const pr = scores[s] / denom;
          for (let i = 0; i < hd; i++) attn[qOff + i] += pr * v[s][kvOff + i];
        }
      }
      const o = linear(attn, wo, d, bo);
      const r = new Float64Array(d);
      for (let i = 0; i < d; i++) r[i] = x[t][i] + o[i];

      // SwiGLU MLP: down(silu(gate(x)) * up(x)), silu(z) = z / (1 + e^-z).
      const h2 = rmsNorm(r, postNorm, eps);
      const gate = linear(h2, wg, ff, bg);
      const up = linear(h2, wu, ff, bu);
      const act = new Float64Array(ff);
      for (let i = 0; i < ff; i++) act[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
      const down = linear(act, wd, d, bd);
      const out = new Float64Array(d);
      for (let i = 0; i < d; i++) out[i] = r[i] + down[i];
      next.push(out);
    }
    x = next;
    hidden.push(x.map(toF32));
  }

  // Final norm and LM head (tied: the embedding matrix, [vocab, hidden], is the head).
  const finalNorm = get('model.norm.weight', d);
  const head = opts.head ?? (config.tieWordEmbeddings ? embed : get('lm_head.weight', vocab * d));
  const logits = x.map((xt) => toF32(linear(rmsNorm(xt, finalNorm, eps), head, vocab, undefined)));
  return { logits, hidden, keys, values };
}
