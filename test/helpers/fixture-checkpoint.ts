/**
 * Builds small, deterministic, random-weight Qwen2/Llama checkpoints in exact Hugging Face layout, for tests of the
 * checkpoint loader and the graph builders. The tokenizer files are copied from the bundled tiny-coder model, so
 * the vocabulary defaults to its 4096 tokens.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StorageDType } from '../../src/engine/checkpoint-types';
import { writeSafetensors, type TensorToWrite } from '../../src/engine/safetensors';
import { seededRandom } from '../../src/engine/sampling';

/** The bundled model; found next to this file's repository root, or under the working directory once bundled. */
export const TINY_CODER_DIR =
  [path.resolve(__dirname, '../../models/tiny-coder'), path.resolve('models/tiny-coder')].find((d) =>
    fs.existsSync(path.join(d, 'tokenizer.json')),
  ) ?? path.resolve(__dirname, '../../models/tiny-coder');

export interface FixtureOptions {
  arch: 'qwen2' | 'llama';
  layers?: number;
  hidden?: number;
  heads?: number;
  kvHeads?: number;
  intermediate?: number;
  vocab?: number;
  /** Tied input/output embeddings; default true for qwen2 (like Qwen2.5 0.5B-3B) and false for llama. */
  tied?: boolean;
  dtype?: StorageDType;
  /** Number of safetensors shards; 1 (default) writes a single model.safetensors, more write an index too. */
  shards?: number;
  seed?: number;
  /** Writes `head_dim` explicitly (otherwise hidden/heads). */
  headDim?: number;
  /** Llama only: `attention_bias` (q/k/v/o biases) and `mlp_bias`. */
  attentionBias?: boolean;
  mlpBias?: boolean;
}

/** Uniform values in [-1, 1) from the engine's seeded generator (mulberry32). */
function prng(seed: number): () => number {
  const uniform = seededRandom(seed);
  return () => uniform() * 2 - 1;
}

/** The HF config.json a fixture gets (also useful on its own for config-parsing tests). */
export function fixtureConfig(opts: FixtureOptions): Record<string, unknown> {
  const hidden = opts.hidden ?? 64;
  const heads = opts.heads ?? 4;
  const qwen = opts.arch === 'qwen2';
  const config: Record<string, unknown> = {
    architectures: [qwen ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: qwen ? 'qwen2' : 'llama',
    hidden_act: 'silu',
    hidden_size: hidden,
    intermediate_size: opts.intermediate ?? 128,
    num_hidden_layers: opts.layers ?? 2,
    num_attention_heads: heads,
    num_key_value_heads: opts.kvHeads ?? 2,
    vocab_size: opts.vocab ?? 4096,
    max_position_embeddings: 4096,
    rms_norm_eps: 1e-6,
    rope_theta: 10000.0,
    rope_scaling: null,
    tie_word_embeddings: opts.tied ?? qwen,
    bos_token_id: 4087,
    eos_token_id: 4087,
    torch_dtype: opts.dtype === 'BF16' ? 'bfloat16' : opts.dtype === 'F16' ? 'float16' : 'float32',
  };
  if (opts.headDim !== undefined) config.head_dim = opts.headDim;
  if (qwen) {
    config.use_sliding_window = false;
    config.sliding_window = null;
  } else {
    config.attention_bias = opts.attentionBias ?? false;
    config.mlp_bias = opts.mlpBias ?? false;
  }
  return config;
}

/** Writes a complete checkpoint directory (created if needed). Same options and seed give identical files. */
export function makeFixtureCheckpoint(dir: string, opts: FixtureOptions): void {
  const config = fixtureConfig(opts);
  const hidden = config.hidden_size as number;
  const heads = config.num_attention_heads as number;
  const kvHeads = config.num_key_value_heads as number;
  const inter = config.intermediate_size as number;
  const vocab = config.vocab_size as number;
  const headDim = opts.headDim ?? hidden / heads;
  const qwen = opts.arch === 'qwen2';
  const qkvBias = qwen || opts.attentionBias === true;
  const oBias = !qwen && opts.attentionBias === true;
  const mlpBias = !qwen && opts.mlpBias === true;
  const dtype = opts.dtype ?? 'F32';
  const rand = prng(opts.seed ?? 1234);

  const tensors: TensorToWrite[] = [];
  const add = (name: string, shape: number[], fill: () => number): void => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = fill();
    tensors.push({ name, dtype, shape, data });
  };
  const weight = (scale: number) => () => rand() * scale;
  const norm = () => 1 + rand() * 0.1;
  const linear = (name: string, out: number, inp: number, bias: boolean): void => {
    // ~1/sqrt(fan_in) keeps activations in a sane range through a few layers (0.02-0.1 for these sizes).
    add(`${name}.weight`, [out, inp], weight(Math.min(0.1, Math.max(0.02, 1 / Math.sqrt(inp)))));
    if (bias) add(`${name}.bias`, [out], weight(0.02));
  };

  add('model.embed_tokens.weight', [vocab, hidden], weight(0.1));
  for (let i = 0; i < (config.num_hidden_layers as number); i++) {
    const p = `model.layers.${i}`;
    add(`${p}.input_layernorm.weight`, [hidden], norm);
    linear(`${p}.self_attn.q_proj`, heads * headDim, hidden, qkvBias);
    linear(`${p}.self_attn.k_proj`, kvHeads * headDim, hidden, qkvBias);
    linear(`${p}.self_attn.v_proj`, kvHeads * headDim, hidden, qkvBias);
    linear(`${p}.self_attn.o_proj`, hidden, heads * headDim, oBias);
    add(`${p}.post_attention_layernorm.weight`, [hidden], norm);
    linear(`${p}.mlp.gate_proj`, inter, hidden, mlpBias);
    linear(`${p}.mlp.up_proj`, inter, hidden, mlpBias);
    linear(`${p}.mlp.down_proj`, hidden, inter, mlpBias);
  }
  add('model.norm.weight', [hidden], norm);
  if (!(config.tie_word_embeddings as boolean)) linear('lm_head', vocab, hidden, false);

  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  fs.writeFileSync(
    path.join(dir, 'generation_config.json'),
    JSON.stringify({ bos_token_id: 4087, eos_token_id: [4087, 4089], do_sample: false, max_new_tokens: 64 }, null, 2),
  );
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    fs.copyFileSync(path.join(TINY_CODER_DIR, f), path.join(dir, f));
  }

  const shards = Math.max(1, opts.shards ?? 1);
  const metadata = { format: 'pt' };
  if (shards === 1) {
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors, metadata);
    return;
  }
  // Contiguous runs of tensors per shard, as transformers' save_pretrained produces.
  const perShard = Math.ceil(tensors.length / shards);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = tensors.slice(s * perShard, (s + 1) * perShard);
    writeSafetensors(path.join(dir, file), part, metadata);
    for (const t of part) {
      weightMap[t.name] = file;
      totalSize += t.data.length * (dtype === 'F32' ? 4 : 2);
    }
  }
  fs.writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2),
  );
}

/**
 * Rewrites a safetensors file's JSON header through `mutate` while keeping its data section byte for byte, for
 * tests that need malformed files.
 */
export function rewriteSafetensorsHeader(
  file: string,
  mutate: (header: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void,
): void {
  const bytes = fs.readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  mutate(header);
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, bytes.subarray(8 + n)]));
}
