import type { ModelConfig } from './model-config';

/** Storage dtypes RepoKV reads from safetensors. */
export type StorageDType = 'F32' | 'F16' | 'BF16';

/** Where one tensor's bytes live, validated against its file and the model config. */
export interface TensorEntry {
  name: string;
  dtype: StorageDType;
  shape: number[];
  /** Absolute path of the safetensors file holding it. */
  file: string;
  /** Absolute byte offset of the first byte in `file` (header included). */
  byteOffset: number;
  byteLength: number;
}

export interface GenerationDefaults {
  eosTokenIds: number[];
  maxNewTokens: number | null;
  temperature: number | null;
  topP: number | null;
}

export interface Checkpoint {
  /** Absolute path of the checkpoint directory. */
  dir: string;
  config: ModelConfig;
  generation: GenerationDefaults;
  /** Every tensor the decoder needs, by its Hugging Face name, already checked for presence, dtype and shape. */
  tensors: Map<string, TensorEntry>;
  /**
   * A stable identity for caches keyed on this checkpoint: a hash of config.json and of each weight file's
   * path, size and modification time (cheap: no hashing of gigabytes of weights on every start).
   */
  identity: string;
  /** Reads one tensor and converts it to float32 (F16 and BF16 are widened exactly). */
  readTensor(name: string): Float32Array;
}
