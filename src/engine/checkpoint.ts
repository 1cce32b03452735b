/**
 * Loads and validates a Hugging Face Qwen2/Llama checkpoint directory. Everything is checked before anything is
 * returned (files, JSON, every safetensors header, the presence, dtype and shape of every tensor the decoder needs),
 * so a Checkpoint is never half-usable; tensor data itself is read later, on demand, through `readTensor`.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Checkpoint, GenerationDefaults, TensorEntry } from './checkpoint-types';
import { hasOutputProjectionBias, parseGenerationConfig, parseModelConfig } from './config';
import { CheckpointError } from './errors';
import type { ModelConfig } from './model-config';
import {
  isStorageDType,
  readSafetensorsHeader,
  readTensorAsFloat32,
  SUPPORTED_DTYPES,
  type SafetensorsHeader,
  type SafetensorsTensor,
} from './safetensors';

/** One dimension of an expected tensor: its size and the config.json expression it comes from (for messages). */
interface Dim {
  size: number;
  from: string;
}

interface ExpectedTensor {
  name: string;
  dims: Dim[];
}

/** The tensors a Qwen2/Llama decoder needs, with Hugging Face names and the shapes config.json implies. */
export function expectedTensors(config: ModelConfig): ExpectedTensor[] {
  const hidden: Dim = { size: config.hiddenSize, from: 'hidden_size' };
  const vocab: Dim = { size: config.vocabSize, from: 'vocab_size' };
  const inter: Dim = { size: config.intermediateSize, from: 'intermediate_size' };
  const qOut: Dim = { size: config.numHeads * config.headDim, from: 'num_attention_heads*head_dim' };
  const kvOut: Dim = { size: config.numKvHeads * config.headDim, from: 'num_key_value_heads*head_dim' };
  const list: ExpectedTensor[] = [{ name: 'model.embed_tokens.weight', dims: [vocab, hidden] }];
  const linear = (name: string, out: Dim, inp: Dim, bias: boolean): void => {
    list.push({ name: `${name}.weight`, dims: [out, inp] });
    if (bias) list.push({ name: `${name}.bias`, dims: [out] });
  };
  const oBias = hasOutputProjectionBias(config);
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    list.push({ name: `${p}.input_layernorm.weight`, dims: [hidden] });
    linear(`${p}.self_attn.q_proj`, qOut, hidden, config.attentionBias);
    linear(`${p}.self_attn.k_proj`, kvOut, hidden, config.attentionBias);
    linear(`${p}.self_attn.v_proj`, kvOut, hidden, config.attentionBias);
    linear(`${p}.self_attn.o_proj`, hidden, qOut, oBias);
    list.push({ name: `${p}.post_attention_layernorm.weight`, dims: [hidden] });
    linear(`${p}.mlp.gate_proj`, inter, hidden, config.mlpBias);
    linear(`${p}.mlp.up_proj`, inter, hidden, config.mlpBias);
    linear(`${p}.mlp.down_proj`, hidden, inter, config.mlpBias);
  }
  list.push({ name: 'model.norm.weight', dims: [hidden] });
  // With tied embeddings the LM head is embed_tokens; a stored lm_head.weight is then ignored (some exports keep it).
  if (!config.tieWordEmbeddings) list.push({ name: 'lm_head.weight', dims: [vocab, hidden] });
  return list;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CheckpointError(`cannot read ${what}: ${(e as Error).message}`, file);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${what} is not valid JSON (${(e as Error).message})`, file);
  }
}

/** Where tensors live: one file, or a weight_map from an index to shards. */
interface WeightLayout {
  /** The file that says where tensors are (the single file, or the index), for "missing tensor" messages. */
  described: string;
  /** The weight index, when sharded. */
  indexFile?: string;
  headers: Map<string, SafetensorsHeader>;
  locate(name: string): SafetensorsTensor | undefined;
}

function singleFileLayout(file: string): WeightLayout {
  const header = readSafetensorsHeader(file);
  return {
    described: file,
    headers: new Map([[file, header]]),
    locate: (name) => header.tensors.get(name),
  };
}

function shardedLayout(dir: string, indexFile: string): WeightLayout {
  const index = readJson(indexFile, 'the weight index');
  const map = isRecord(index) ? index.weight_map : undefined;
  if (!isRecord(map)) throw new CheckpointError('weight_map is missing or not an object', indexFile, 'weight_map');
  const shardOf = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard === '') {
      throw new CheckpointError(`shard for ${tensor} is not a file name`, indexFile, `weight_map.${tensor}`);
    }
    const abs = path.resolve(dir, shard);
    // An index is data from the internet: never let it point outside the checkpoint directory.
    if (path.dirname(abs) !== dir) {
      throw new CheckpointError(
        `shard ${shard} is not a file inside the checkpoint directory`,
        indexFile,
        `weight_map.${tensor}`,
      );
    }
    shardOf.set(tensor, abs);
  }
  const headers = new Map<string, SafetensorsHeader>();
  for (const [tensor, shard] of shardOf) {
    if (headers.has(shard)) continue;
    if (!isFile(shard)) {
      throw new CheckpointError(
        `shard ${path.basename(shard)} listed in the index (for ${tensor}) does not exist in ${dir}`,
        indexFile,
        `weight_map.${tensor}`,
      );
    }
    headers.set(shard, readSafetensorsHeader(shard));
  }
  return {
    described: indexFile,
    indexFile,
    headers,
    locate(name) {
      const shard = shardOf.get(name);
      if (!shard) return undefined;
      const t = headers.get(shard)!.tensors.get(name);
      if (!t) {
        throw new CheckpointError(
          `the index maps ${name} to ${path.basename(shard)}, but that shard does not contain it`,
          shard,
          name,
        );
      }
      return t;
    },
  };
}

function weightLayout(dir: string): WeightLayout {
  // Same preference as transformers: a single model.safetensors wins over an index.
  const single = path.join(dir, 'model.safetensors');
  if (isFile(single)) return singleFileLayout(single);
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  if (isFile(indexFile)) return shardedLayout(dir, indexFile);
  const hasBin = fs.readdirSync(dir).some((f) => /^pytorch_model.*\.bin$/.test(f));
  throw new CheckpointError(
    'no weights: expected model.safetensors or model.safetensors.index.json' +
      (hasBin ? ' (only PyTorch .bin weights were found; convert them to safetensors)' : ''),
    dir,
  );
}

function fmtShape(s: number[]): string {
  return `[${s.join(', ')}]`;
}

function validateTensors(config: ModelConfig, layout: WeightLayout, configFile: string): Map<string, TensorEntry> {
  const tensors = new Map<string, TensorEntry>();
  const missing: string[] = [];
  for (const exp of expectedTensors(config)) {
    const t = layout.locate(exp.name);
    if (!t) {
      missing.push(exp.name);
      continue;
    }
    if (!isStorageDType(t.dtype)) {
      throw new CheckpointError(
        `unsupported dtype ${t.dtype} for a weight tensor (RepoKV reads ${SUPPORTED_DTYPES.join(', ')})`,
        t.file,
        exp.name,
      );
    }
    const want = exp.dims.map((d) => d.size);
    if (t.shape.length !== want.length || t.shape.some((s, i) => s !== want[i])) {
      throw new CheckpointError(
        `shape ${fmtShape(t.shape)} contradicts ${configFile}, which implies ${fmtShape(want)} ` +
          `(${exp.dims.map((d) => `${d.from}=${d.size}`).join(', ')})`,
        t.file,
        exp.name,
      );
    }
    tensors.set(exp.name, {
      name: exp.name,
      dtype: t.dtype,
      shape: [...t.shape],
      file: t.file,
      byteOffset: t.byteOffset,
      byteLength: t.byteLength,
    });
  }
  if (missing.length > 0) {
    const more = missing.length > 1 ? `; ${missing.length - 1} more missing: ${missing.slice(1, 6).join(', ')}` : '';
    const searched = [...layout.headers.keys()].map((f) => path.basename(f)).join(', ');
    throw new CheckpointError(
      `missing tensor ${missing[0]} (searched ${searched}${layout.headers.size > 1 ? ' via the index' : ''})${more}`,
      layout.described,
      missing[0],
    );
  }
  return tensors;
}

/** Stat of a weight file at load time; readTensor refuses to read a file that has changed since. */
interface FileStamp {
  size: number;
  mtimeMs: number;
}

function stamp(file: string): FileStamp {
  const s = fs.statSync(file);
  return { size: s.size, mtimeMs: s.mtimeMs };
}

/**
 * sha256 over config.json's bytes, the weight index (if any), each weight file's basename, size and mtime, and
 * tokenizer.json's size and mtime: cached KV state depends on token ids too, so a changed tokenizer must miss.
 */
function computeIdentity(
  configBytes: Buffer,
  files: string[],
  stamps: Map<string, FileStamp>,
  extra: string[],
): string {
  const h = createHash('sha256');
  h.update('repokv-checkpoint-v1\0');
  h.update(configBytes);
  for (const f of extra) {
    const s = stamp(f);
    h.update(`\0${path.basename(f)}\0${s.size}\0${s.mtimeMs}`);
  }
  for (const f of [...files].sort()) {
    const s = stamps.get(f)!;
    h.update(`\0${path.basename(f)}\0${s.size}\0${s.mtimeMs}`);
  }
  return h.digest('hex');
}

/**
 * Loads a checkpoint directory synchronously. Throws CheckpointError (naming the file and field/tensor) on any
 * problem. `readTensor` opens the tensor's file, checks it has not changed since loading, reads, and closes it:
 * no descriptors are held between reads, so a loaded Checkpoint needs no disposal.
 */
export function loadCheckpoint(dir: string): Checkpoint {
  const abs = path.resolve(dir);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new CheckpointError('checkpoint directory does not exist', abs);
  }
  if (!st.isDirectory()) throw new CheckpointError('not a directory (expected a checkpoint directory)', abs);

  const configFile = path.join(abs, 'config.json');
  if (!isFile(configFile)) {
    throw new CheckpointError('config.json is missing from the checkpoint directory', configFile);
  }
  const configBytes = fs.readFileSync(configFile);
  let configJson: unknown;
  try {
    configJson = JSON.parse(configBytes.toString('utf8'));
  } catch (e) {
    throw new CheckpointError(`config.json is not valid JSON (${(e as Error).message})`, configFile);
  }
  const config = parseModelConfig(configJson, configFile);

  const tokenizerFile = path.join(abs, 'tokenizer.json');
  if (!isFile(tokenizerFile)) {
    throw new CheckpointError('tokenizer.json is missing (RepoKV needs the fast-tokenizer file)', tokenizerFile);
  }
  const tokenizerConfigFile = path.join(abs, 'tokenizer_config.json');
  if (isFile(tokenizerConfigFile)) readJson(tokenizerConfigFile, 'tokenizer_config.json');

  const genFile = path.join(abs, 'generation_config.json');
  const generation: GenerationDefaults = parseGenerationConfig(
    isFile(genFile) ? readJson(genFile, 'generation_config.json') : undefined,
    genFile,
    config,
  );

  const layout = weightLayout(abs);
  const tensors = validateTensors(config, layout, configFile);
  const weightFiles = [...layout.headers.keys()];
  const stamps = new Map(weightFiles.map((f) => [f, stamp(f)]));
  const extra = layout.indexFile ? [tokenizerFile, layout.indexFile] : [tokenizerFile];
  const identity = computeIdentity(configBytes, weightFiles, stamps, extra);

  return {
    dir: abs,
    config,
    generation,
    tensors,
    identity,
    readTensor(name: string): Float32Array {
      const entry = tensors.get(name);
      if (!entry) {
        throw new CheckpointError('not one of the tensors this checkpoint provides to the decoder', abs, name);
      }
      const fd = fs.openSync(entry.file, 'r');
      try {
        const now = fs.fstatSync(fd);
        const then = stamps.get(entry.file)!;
        if (now.size !== then.size || now.mtimeMs !== then.mtimeMs) {
          throw new CheckpointError('weight file changed since the checkpoint was loaded; reload it', entry.file, name);
        }
        return readTensorAsFloat32(entry, { fd });
      } finally {
        fs.closeSync(fd);
      }
    },
  };
}
