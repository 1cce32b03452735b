/**
 * Turns a Hugging Face `config.json` (and the optional `generation_config.json`) into the normalised ModelConfig.
 *
 * Policy: every field that changes the numbers the model computes is either understood or refused. A silently
 * ignored `rope_scaling`, sliding window or activation would still run, but produce wrong logits, which is worse
 * than a clear error. Fields that only matter for training or other runtimes are ignored.
 */
import type { GenerationDefaults } from './checkpoint-types';
import { CheckpointError } from './errors';
import type { Architecture, ModelConfig } from './model-config';

const SUPPORTED: readonly Architecture[] = ['Qwen2ForCausalLM', 'LlamaForCausalLM'];
const MODEL_TYPE: Record<Architecture, string> = { Qwen2ForCausalLM: 'qwen2', LlamaForCausalLM: 'llama' };

/**
 * Defaults of the transformers config classes (Qwen2Config, LlamaConfig) for the optional fields, so a config that
 * omits one means what it means to transformers.
 */
const DEFAULTS: Record<Architecture, { rmsNormEps: number; ropeTheta: number; maxPositionEmbeddings: number }> = {
  Qwen2ForCausalLM: { rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 32768 },
  LlamaForCausalLM: { rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 2048 },
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Typed accessors over one JSON object that report the file and field on any mismatch. */
class Fields {
  constructor(
    readonly obj: Record<string, unknown>,
    readonly file: string,
  ) {}

  fail(field: string, message: string): never {
    throw new CheckpointError(message, this.file, field);
  }

  has(field: string): boolean {
    return this.obj[field] !== undefined && this.obj[field] !== null;
  }

  positiveInt(field: string, fallback?: number): number {
    const v = this.obj[field];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (v === undefined || v === null) this.fail(field, 'required field is missing');
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      this.fail(field, `must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  positiveNumber(field: string, fallback: number): number {
    const v = this.obj[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      this.fail(field, `must be a positive number, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  bool(field: string, fallback: boolean): boolean {
    const v = this.obj[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(field, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A token id or a list of them (transformers accepts both for eos_token_id); null/absent gives null. */
  tokenIds(field: string, vocabSize: number | null): number[] | null {
    const v = this.obj[field];
    if (v === undefined || v === null) return null;
    const list = Array.isArray(v) ? v : [v];
    for (const id of list) {
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
        this.fail(field, `must be a token id or a list of token ids, got ${JSON.stringify(v)}`);
      }
      if (vocabSize !== null && id >= vocabSize)
        this.fail(field, `token id ${id} is outside the vocabulary (${vocabSize})`);
    }
    return [...new Set(list as number[])];
  }
}

function architectureOf(f: Fields): Architecture {
  const archs = f.obj.architectures;
  if (archs === undefined || archs === null) {
    // Some hand-written configs omit `architectures`; model_type is then the only hint transformers has too.
    const byType = SUPPORTED.find((a) => MODEL_TYPE[a] === f.obj.model_type);
    if (byType) return byType;
    f.fail('architectures', `missing, and model_type ${JSON.stringify(f.obj.model_type)} is not qwen2 or llama`);
  }
  if (!Array.isArray(archs) || archs.length === 0 || !archs.every((a) => typeof a === 'string')) {
    f.fail('architectures', `must be a non-empty list of class names, got ${JSON.stringify(archs)}`);
  }
  const found = (archs as string[]).find((a): a is Architecture => (SUPPORTED as readonly string[]).includes(a));
  if (!found) {
    f.fail('architectures', `unsupported architecture ${archs.join(', ')} (supported: ${SUPPORTED.join(', ')})`);
  }
  return found;
}

export function parseModelConfig(configJson: unknown, file: string): ModelConfig {
  if (!isRecord(configJson)) throw new CheckpointError('config is not a JSON object', file);
  const f: Fields = new Fields(configJson, file);
  const architecture = architectureOf(f);
  const defaults = DEFAULTS[architecture];
  const isLlama = architecture === 'LlamaForCausalLM';

  const modelType = typeof configJson.model_type === 'string' ? configJson.model_type : MODEL_TYPE[architecture];
  const vocabSize = f.positiveInt('vocab_size');
  const hiddenSize = f.positiveInt('hidden_size');
  const intermediateSize = f.positiveInt('intermediate_size');
  const numLayers = f.positiveInt('num_hidden_layers');
  const numHeads = f.positiveInt('num_attention_heads');
  // transformers falls back to multi-head attention when num_key_value_heads is absent.
  const numKvHeads = f.positiveInt('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    f.fail('num_key_value_heads', `${numKvHeads} does not divide num_attention_heads (${numHeads})`);
  }
  if (!f.has('head_dim') && hiddenSize % numHeads !== 0) {
    f.fail('num_attention_heads', `${numHeads} does not divide hidden_size (${hiddenSize}) and head_dim is not given`);
  }
  const headDim = f.positiveInt('head_dim', hiddenSize / numHeads);
  if (headDim % 2 !== 0)
    f.fail('head_dim', `rotary embedding (rotate-half) needs an even head dimension, got ${headDim}`);

  const act = configJson.hidden_act;
  if (act !== undefined && act !== 'silu') {
    f.fail('hidden_act', `${JSON.stringify(act)} is not supported (the SwiGLU MLP uses silu)`);
  }
  if (configJson.rope_scaling !== undefined && configJson.rope_scaling !== null) {
    f.fail(
      'rope_scaling',
      `${JSON.stringify(configJson.rope_scaling)} is not supported: only plain RoPE is implemented, and ignoring the ` +
        'scaling would produce wrong logits',
    );
  }
  if (f.bool('use_sliding_window', false)) {
    f.fail(
      'use_sliding_window',
      `sliding-window attention (sliding_window=${JSON.stringify(configJson.sliding_window)}) is not supported`,
    );
  }
  const partial = configJson.partial_rotary_factor;
  if (partial !== undefined && partial !== null && partial !== 1) {
    f.fail('partial_rotary_factor', `${JSON.stringify(partial)} is not supported (rotary over the full head only)`);
  }

  return {
    architecture,
    modelType,
    vocabSize,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: f.positiveNumber('rms_norm_eps', defaults.rmsNormEps),
    ropeTheta: f.positiveNumber('rope_theta', defaults.ropeTheta),
    maxPositionEmbeddings: f.positiveInt('max_position_embeddings', defaults.maxPositionEmbeddings),
    // Qwen2 always has q/k/v biases (and no field for it); Llama's attention_bias covers q/k/v and o.
    attentionBias: isLlama ? f.bool('attention_bias', false) : true,
    mlpBias: isLlama ? f.bool('mlp_bias', false) : false,
    // Both Qwen2Config and LlamaConfig default to untied; the released Qwen2.5 small models set it to true.
    tieWordEmbeddings: f.bool('tie_word_embeddings', false),
    bosTokenId: f.tokenIds('bos_token_id', vocabSize)?.[0] ?? null,
    eosTokenIds: f.tokenIds('eos_token_id', vocabSize) ?? [],
  };
}

/**
 * Whether `o_proj` has a bias. ModelConfig has one `attentionBias` flag because both families bias q/k/v together;
 * they differ on the output projection: Llama's `attention_bias` includes it, Qwen2 never has one.
 */
export function hasOutputProjectionBias(config: ModelConfig): boolean {
  return config.attentionBias && config.architecture === 'LlamaForCausalLM';
}

/**
 * Parses `generation_config.json`; `undefined` means the file is absent, which is fine: the defaults then come from
 * config.json. Its eos_token_id, when present, replaces config.json's (chat models list their end-of-turn token
 * there). `do_sample: false` is honoured as temperature 0 (greedy), which is what transformers does with it.
 */
export function parseGenerationConfig(json: unknown, file: string, config: ModelConfig): GenerationDefaults {
  const defaults: GenerationDefaults = {
    eosTokenIds: [...config.eosTokenIds],
    maxNewTokens: null,
    temperature: null,
    topP: null,
  };
  if (json === undefined) return defaults;
  if (!isRecord(json)) throw new CheckpointError('generation config is not a JSON object', file);
  const f: Fields = new Fields(json, file);
  const eos = f.tokenIds('eos_token_id', config.vocabSize);
  const maxNewTokens = f.has('max_new_tokens') ? f.positiveInt('max_new_tokens') : null;
  let temperature: number | null = null;
  if (f.has('temperature')) {
    const t = json.temperature;
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) {
      f.fail('temperature', `must be a non-negative number, got ${JSON.stringify(t)}`);
    }
    temperature = t;
  }
  let topP: number | null = null;
  if (f.has('top_p')) {
    const p = json.top_p;
    if (typeof p !== 'number' || !(p > 0 && p <= 1)) f.fail('top_p', `must be in (0, 1], got ${JSON.stringify(p)}`);
    topP = p;
  }
  if (!f.bool('do_sample', true)) {
    temperature = 0;
    topP = null;
  }
  return { eosTokenIds: eos ?? defaults.eosTokenIds, maxNewTokens, temperature, topP };
}
