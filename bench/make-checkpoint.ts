/**
 * `node dist/bench.js make-checkpoint --shape qwen2.5-coder-0.5b --out DIR`: a random-weight Hugging Face
 * checkpoint of a real model's shape (BF16), with the bundled tokenizer files, for timing real shapes without
 * downloading real weights. Weights are N(0, 0.02²) from a seeded generator (the init scale of Qwen2's config, so
 * activations stay finite through 24 layers), norms are 1 and q/k/v biases small. Written in shards with an index,
 * one shard's float32 data in memory at a time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../src/engine/safetensors';
import { seededRandom } from '../src/engine/sampling';

export interface CheckpointShape {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  ropeTheta: number;
  maxPositions: number;
}

export const SHAPES: Record<string, CheckpointShape> = {
  'qwen2.5-coder-0.5b': {
    hidden: 896,
    intermediate: 4864,
    layers: 24,
    heads: 14,
    kvHeads: 2,
    vocab: 151936,
    ropeTheta: 1e6,
    maxPositions: 32768,
  },
};

const INIT_STD = 0.02;
const LAYERS_PER_SHARD = 8;

/** Normal samples by Box–Muller over the engine's seeded uniform generator. */
function gaussianFill(random: () => number): (n: number, std: number) => Float32Array {
  return (n, std) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = std * Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12)));
      const t = 2 * Math.PI * random();
      out[i] = r * Math.cos(t);
      if (i + 1 < n) out[i + 1] = r * Math.sin(t);
    }
    return out;
  };
}

export function makeCheckpoint(shapeName: string, out: string, tokenizerDir: string, seed = 0): number {
  const s = SHAPES[shapeName];
  if (!s) throw new Error(`unknown shape "${shapeName}"; known: ${Object.keys(SHAPES).join(', ')}`);
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'config.json']) {
    if (!fs.existsSync(path.join(tokenizerDir, f))) throw new Error(`${tokenizerDir} has no ${f}`);
  }
  fs.mkdirSync(out, { recursive: true });
  const gaussian = gaussianFill(seededRandom(seed));
  const headDim = s.hidden / s.heads;
  const weightMap: Record<string, string> = {};
  let parameters = 0;
  const shards: { file: string; build: () => TensorToWrite[] }[] = [];
  const tensor = (name: string, shape: number[], data: Float32Array): TensorToWrite => {
    parameters += data.length;
    return { name, dtype: 'BF16', shape, data };
  };
  shards.push({
    file: 'model-embed.safetensors',
    build: () => [
      tensor('model.embed_tokens.weight', [s.vocab, s.hidden], gaussian(s.vocab * s.hidden, INIT_STD)),
      tensor('model.norm.weight', [s.hidden], new Float32Array(s.hidden).fill(1)),
    ],
  });
  for (let first = 0; first < s.layers; first += LAYERS_PER_SHARD) {
    shards.push({
      file: `model-layers-${first}.safetensors`,
      build: () => {
        const out: TensorToWrite[] = [];
        for (let i = first; i < Math.min(s.layers, first + LAYERS_PER_SHARD); i++) {
          const p = `model.layers.${i}`;
          const kv = s.kvHeads * headDim;
          const linear = (name: string, rows: number, cols: number) =>
            out.push(tensor(`${p}.${name}.weight`, [rows, cols], gaussian(rows * cols, INIT_STD)));
          linear('self_attn.q_proj', s.hidden, s.hidden);
          linear('self_attn.k_proj', kv, s.hidden);
          linear('self_attn.v_proj', kv, s.hidden);
          for (const [n, size] of [
            ['q_proj', s.hidden],
            ['k_proj', kv],
            ['v_proj', kv],
          ] as const) {
            out.push(tensor(`${p}.self_attn.${n}.bias`, [size], gaussian(size, INIT_STD)));
          }
          linear('self_attn.o_proj', s.hidden, s.hidden);
          linear('mlp.gate_proj', s.intermediate, s.hidden);
          linear('mlp.up_proj', s.intermediate, s.hidden);
          linear('mlp.down_proj', s.hidden, s.intermediate);
          for (const norm of ['input_layernorm', 'post_attention_layernorm']) {
            out.push(tensor(`${p}.${norm}.weight`, [s.hidden], new Float32Array(s.hidden).fill(1)));
          }
        }
        return out;
      },
    });
  }
  for (const shard of shards) {
    const tensors = shard.build();
    writeSafetensors(path.join(out, shard.file), tensors);
    for (const t of tensors) weightMap[t.name] = shard.file;
  }
  fs.writeFileSync(
    path.join(out, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: 2 * parameters }, weight_map: weightMap }, null, 2),
  );
  const base = JSON.parse(fs.readFileSync(path.join(tokenizerDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const config = {
    ...base,
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    max_window_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    vocab_size: s.vocab,
    max_position_embeddings: s.maxPositions,
    rope_theta: s.ropeTheta,
    tie_word_embeddings: true,
    torch_dtype: 'bfloat16',
  };
  fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify(config, null, 2));
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) {
    const from = path.join(tokenizerDir, f);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(out, f));
  }
  return parameters;
}
