import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import { hasOutputProjectionBias, parseGenerationConfig, parseModelConfig } from '../../src/engine/config';
import { CheckpointError } from '../../src/engine/errors';
import {
  fixtureConfig,
  makeFixtureCheckpoint,
  rewriteSafetensorsHeader,
  TINY_CODER_DIR,
} from '../helpers/fixture-checkpoint';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-ckpt-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

let counter = 0;
/** A fresh fixture directory (small qwen2 by default). */
function fixture(opts: Partial<Parameters<typeof makeFixtureCheckpoint>[1]> = {}): string {
  const dir = path.join(tmp, `ckpt${counter++}`);
  makeFixtureCheckpoint(dir, { arch: 'qwen2', ...opts });
  return dir;
}

function editJson(file: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
}

function expectCheckpointError(fn: () => unknown, ...fragments: string[]): CheckpointError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CheckpointError);
  for (const f of fragments) expect((err as Error).message).toContain(f);
  return err as CheckpointError;
}

describe('loading', () => {
  it('loads the bundled tiny-coder checkpoint', () => {
    const ck = loadCheckpoint(TINY_CODER_DIR);
    expect(ck.config).toMatchObject({
      architecture: 'Qwen2ForCausalLM',
      modelType: 'qwen2',
      numLayers: 4,
      hiddenSize: 256,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 64,
      intermediateSize: 768,
      vocabSize: 4096,
      tieWordEmbeddings: true,
      attentionBias: true,
      mlpBias: false,
      rmsNormEps: 1e-6,
      ropeTheta: 10000,
      eosTokenIds: [4087],
    });
    expect(ck.generation).toEqual({ eosTokenIds: [4087, 4089], maxNewTokens: 128, temperature: 0, topP: null });
    // 1 embedding + 4 layers * (q,k,v weight+bias, o, gate, up, down, 2 norms) + final norm; no lm_head (tied).
    expect(ck.tensors.size).toBe(1 + 4 * 12 + 1);
    expect(ck.tensors.has('lm_head.weight')).toBe(false);
    expect(ck.tensors.has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
    expect(ck.tensors.get('model.layers.3.self_attn.k_proj.weight')?.shape).toEqual([128, 256]);
    const norm = ck.readTensor('model.norm.weight');
    expect(norm.length).toBe(256);
    expect(norm.every(Number.isFinite)).toBe(true);
    expect(ck.identity).toMatch(/^[0-9a-f]{64}$/);
    expect(loadCheckpoint(TINY_CODER_DIR).identity).toBe(ck.identity);
  });

  it('a sharded checkpoint reads the same tensors as the unsharded one with the same seed', () => {
    const single = loadCheckpoint(fixture({ seed: 7 }));
    const shardedDir = fixture({ seed: 7, shards: 2 });
    expect(fs.existsSync(path.join(shardedDir, 'model.safetensors.index.json'))).toBe(true);
    const sharded = loadCheckpoint(shardedDir);
    const files = new Set([...sharded.tensors.values()].map((t) => path.basename(t.file)));
    expect(files).toEqual(new Set(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']));
    expect([...sharded.tensors.keys()]).toEqual([...single.tensors.keys()]);
    const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const name of single.tensors.keys()) {
      expect(bytes(sharded.readTensor(name)).equals(bytes(single.readTensor(name))), name).toBe(true);
    }
    expect(sharded.identity).not.toBe(single.identity);
  });

  it('a BF16 fixture widens to values within bf16 precision of the F32 one', () => {
    const ref = loadCheckpoint(fixture({ seed: 3 }));
    const bf = loadCheckpoint(fixture({ seed: 3, dtype: 'BF16', shards: 3 }));
    expect(bf.tensors.get('model.embed_tokens.weight')?.dtype).toBe('BF16');
    const a = ref.readTensor('model.layers.1.mlp.down_proj.weight');
    const b = bf.readTensor('model.layers.1.mlp.down_proj.weight');
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(Math.abs(a[i]) * 2 ** -8);
  });

  it('a Llama fixture with attention and MLP biases and an untied head', () => {
    const ck = loadCheckpoint(
      fixture({ arch: 'llama', attentionBias: true, mlpBias: true, headDim: 32, dtype: 'F16' }),
    );
    expect(ck.config).toMatchObject({
      architecture: 'LlamaForCausalLM',
      headDim: 32,
      attentionBias: true,
      mlpBias: true,
    });
    expect(hasOutputProjectionBias(ck.config)).toBe(true);
    expect(ck.tensors.get('model.layers.0.self_attn.q_proj.weight')?.shape).toEqual([128, 64]);
    expect(ck.tensors.get('model.layers.0.self_attn.o_proj.weight')?.shape).toEqual([64, 128]);
    expect(ck.tensors.has('model.layers.1.self_attn.o_proj.bias')).toBe(true);
    expect(ck.tensors.has('model.layers.1.mlp.down_proj.bias')).toBe(true);
    expect(ck.readTensor('lm_head.weight').length).toBe(4096 * 64);
    const plain = loadCheckpoint(fixture({ arch: 'llama' })).config;
    expect(plain).toMatchObject({ attentionBias: false, mlpBias: false, tieWordEmbeddings: false });
  });

  it('tied embeddings: a stored lm_head.weight is ignored', () => {
    const dir = fixture({ arch: 'llama', tied: false });
    editJson(path.join(dir, 'config.json'), (j) => {
      j.tie_word_embeddings = true;
    });
    const ck = loadCheckpoint(dir);
    expect(ck.tensors.has('lm_head.weight')).toBe(false);
    expectCheckpointError(() => ck.readTensor('lm_head.weight'), 'lm_head.weight', 'not one of the tensors');
  });

  it('readTensor refuses a weight file changed since loading', () => {
    const dir = fixture();
    const ck = loadCheckpoint(dir);
    fs.appendFileSync(path.join(dir, 'model.safetensors'), Buffer.alloc(4));
    expectCheckpointError(() => ck.readTensor('model.norm.weight'), 'model.safetensors', 'changed since');
  });
});

describe('config parsing', () => {
  it('head_dim, eos lists, defaults and generation config', () => {
    const c = parseModelConfig({ ...fixtureConfig({ arch: 'llama' }), eos_token_id: [1, 2], head_dim: 8 }, 'c.json');
    expect(c).toMatchObject({ headDim: 8, eosTokenIds: [1, 2], bosTokenId: 4087 });
    const noKv = { ...fixtureConfig({ arch: 'qwen2' }), num_key_value_heads: undefined, rms_norm_eps: undefined };
    expect(parseModelConfig(noKv, 'c.json')).toMatchObject({ numKvHeads: 4, rmsNormEps: 1e-6 });
    expect(parseGenerationConfig(undefined, 'g.json', c)).toEqual({
      eosTokenIds: [1, 2],
      maxNewTokens: null,
      temperature: null,
      topP: null,
    });
    const g = parseGenerationConfig({ eos_token_id: 5, do_sample: true, temperature: 0.7, top_p: 0.8 }, 'g.json', c);
    expect(g).toEqual({ eosTokenIds: [5], maxNewTokens: null, temperature: 0.7, topP: 0.8 });
    expectCheckpointError(() => parseGenerationConfig({ top_p: 2 }, 'g.json', c), 'g.json', '[top_p]');
  });

  it.each([
    ['num_key_value_heads', 3, 'does not divide num_attention_heads'],
    ['hidden_size', -64, 'positive integer'],
    ['vocab_size', undefined, 'required field is missing'],
    ['hidden_act', 'gelu', 'not supported'],
    ['tie_word_embeddings', 'yes', 'true or false'],
    ['eos_token_id', 99999, 'outside the vocabulary'],
  ])('rejects %s = %j', (field, value, fragment) => {
    const dir = fixture();
    const file = path.join(dir, 'config.json');
    editJson(file, (j) => {
      j[field] = value;
    });
    const err = expectCheckpointError(() => loadCheckpoint(dir), file, `[${field}]`, fragment);
    expect(err.field).toBe(field);
  });

  it('sliding-window attention is refused', () => {
    const dir = fixture();
    const file = path.join(dir, 'config.json');
    editJson(file, (j) => {
      j.use_sliding_window = true;
      j.sliding_window = 4096;
    });
    expectCheckpointError(
      () => loadCheckpoint(dir),
      file,
      '[use_sliding_window]',
      'sliding_window=4096',
      'not supported',
    );
  });
});

describe('malformed checkpoints', () => {
  it('missing directory', () => {
    const dir = path.join(tmp, 'does-not-exist');
    expectCheckpointError(() => loadCheckpoint(dir), dir, 'does not exist');
  });

  it('missing config.json', () => {
    const dir = fixture();
    fs.rmSync(path.join(dir, 'config.json'));
    expectCheckpointError(() => loadCheckpoint(dir), path.join(dir, 'config.json'), 'missing');
  });

  it('config.json not JSON', () => {
    const dir = fixture();
    fs.writeFileSync(path.join(dir, 'config.json'), '{"architectures": [');
    expectCheckpointError(() => loadCheckpoint(dir), path.join(dir, 'config.json'), 'not valid JSON');
  });

  it('missing tokenizer.json', () => {
    const dir = fixture();
    fs.rmSync(path.join(dir, 'tokenizer.json'));
    expectCheckpointError(() => loadCheckpoint(dir), path.join(dir, 'tokenizer.json'), 'missing');
  });

  it('tokenizer_config.json present but not JSON', () => {
    const dir = fixture();
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), 'nope');
    expectCheckpointError(() => loadCheckpoint(dir), path.join(dir, 'tokenizer_config.json'), 'not valid JSON');
  });

  it('missing weights', () => {
    const dir = fixture();
    fs.rmSync(path.join(dir, 'model.safetensors'));
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), '');
    expectCheckpointError(
      () => loadCheckpoint(dir),
      dir,
      'no weights: expected model.safetensors or model.safetensors.index.json',
      'PyTorch .bin',
    );
  });

  it('unsupported architecture', () => {
    const dir = fixture();
    const file = path.join(dir, 'config.json');
    editJson(file, (j) => {
      j.architectures = ['GPT2LMHeadModel'];
      j.model_type = 'gpt2';
    });
    expectCheckpointError(
      () => loadCheckpoint(dir),
      file,
      '[architectures]',
      'unsupported architecture GPT2LMHeadModel',
    );
  });

  it('rope_scaling present', () => {
    const dir = fixture({ arch: 'llama' });
    const file = path.join(dir, 'config.json');
    editJson(file, (j) => {
      j.rope_scaling = { rope_type: 'llama3', factor: 8.0 };
    });
    expectCheckpointError(() => loadCheckpoint(dir), file, '[rope_scaling]', 'not supported');
  });

  it('header length larger than the file', () => {
    const dir = fixture();
    const file = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    bytes.writeBigUInt64LE(BigInt(bytes.length * 2), 0);
    fs.writeFileSync(file, bytes);
    expectCheckpointError(() => loadCheckpoint(dir), file, 'larger than the file');
  });

  it('header not JSON', () => {
    const dir = fixture();
    const file = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    bytes.write('#', 8);
    fs.writeFileSync(file, bytes);
    expectCheckpointError(() => loadCheckpoint(dir), file, 'header is not valid UTF-8 JSON');
  });

  it('offsets outside the data section', () => {
    const dir = fixture();
    const file = path.join(dir, 'model.safetensors');
    rewriteSafetensorsHeader(file, (h) => {
      const t = h['model.norm.weight'];
      const len = t.data_offsets[1] - t.data_offsets[0];
      t.data_offsets = [1e9, 1e9 + len];
    });
    expectCheckpointError(() => loadCheckpoint(dir), file, '[model.norm.weight]', 'outside the data section');
  });

  it('overlapping offsets', () => {
    const dir = fixture();
    const file = path.join(dir, 'model.safetensors');
    rewriteSafetensorsHeader(file, (h) => {
      const t = h['model.norm.weight'];
      const len = t.data_offsets[1] - t.data_offsets[0];
      t.data_offsets = [4, 4 + len];
    });
    expectCheckpointError(() => loadCheckpoint(dir), file, 'tensors overlap', 'model.norm.weight');
  });

  it('a weight with a non-float dtype (I64)', () => {
    const dir = fixture();
    const file = path.join(dir, 'model.safetensors');
    rewriteSafetensorsHeader(file, (h) => {
      // Same bytes reinterpreted as half as many 8-byte integers, so only the dtype is wrong.
      h['model.norm.weight'].dtype = 'I64';
      h['model.norm.weight'].shape = [32];
    });
    expectCheckpointError(() => loadCheckpoint(dir), file, '[model.norm.weight]', 'unsupported dtype I64');
  });

  it('shape contradicting config.json', () => {
    const dir = fixture();
    const file = path.join(dir, 'config.json');
    editJson(file, (j) => {
      j.intermediate_size = 96;
    });
    expectCheckpointError(
      () => loadCheckpoint(dir),
      path.join(dir, 'model.safetensors'),
      '[model.layers.0.mlp.gate_proj.weight]',
      'shape [128, 64] contradicts',
      'implies [96, 64] (intermediate_size=96, hidden_size=64)',
    );
  });

  it('missing tensor', () => {
    const dir = fixture();
    const file = path.join(dir, 'model.safetensors');
    rewriteSafetensorsHeader(file, (h) => {
      delete h['model.layers.1.self_attn.k_proj.bias'];
    });
    expectCheckpointError(
      () => loadCheckpoint(dir),
      file,
      '[model.layers.1.self_attn.k_proj.bias]',
      'missing tensor',
      'searched model.safetensors',
    );
  });

  it('missing tensor in a sharded checkpoint names the index and shards', () => {
    const dir = fixture({ shards: 2 });
    const index = path.join(dir, 'model.safetensors.index.json');
    editJson(index, (j) => {
      delete (j.weight_map as Record<string, string>)['model.norm.weight'];
    });
    expectCheckpointError(() => loadCheckpoint(dir), index, '[model.norm.weight]', 'model-00002-of-00002.safetensors');
  });

  it('truncated file', () => {
    const dir = fixture();
    const file = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    expectCheckpointError(() => loadCheckpoint(dir), file, 'file is truncated', '100 missing');
  });

  it('a shard listed in the index does not exist', () => {
    const dir = fixture({ shards: 2 });
    fs.rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
    expectCheckpointError(
      () => loadCheckpoint(dir),
      path.join(dir, 'model.safetensors.index.json'),
      'shard model-00002-of-00002.safetensors listed in the index',
      'does not exist',
    );
  });

  it('an index pointing outside the checkpoint directory', () => {
    const dir = fixture({ shards: 2 });
    const index = path.join(dir, 'model.safetensors.index.json');
    editJson(index, (j) => {
      (j.weight_map as Record<string, string>)['model.norm.weight'] = '../elsewhere.safetensors';
    });
    expectCheckpointError(() => loadCheckpoint(dir), index, '[weight_map.model.norm.weight]', 'not a file inside');
  });
});
