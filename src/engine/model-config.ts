/**
 * The model configuration the engine and the graph builders work from: the subset of a Hugging Face
 * `config.json` that decides the shape of a Qwen2/Llama decoder, normalised to one shape.
 */
export type Architecture = 'Qwen2ForCausalLM' | 'LlamaForCausalLM';

export interface ModelConfig {
  architecture: Architecture;
  /** `model_type` from config.json (`qwen2` or `llama`). */
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositionEmbeddings: number;
  /** Qwen2 has biases on q/k/v projections; Llama has none (or `attention_bias: true`). */
  attentionBias: boolean;
  /** Llama's `mlp_bias`; Qwen2 never has MLP biases. */
  mlpBias: boolean;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  /** One or more end-of-sequence ids (config.json and generation_config.json may list several). */
  eosTokenIds: number[];
}
