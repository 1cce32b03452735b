/**
 * The compressed cache's configuration: one object, the same meaning as the CLI's cache flags and the
 * `repokv.cache.*` settings (DESIGN section 7). Everything that changes the bytes of a cached segment is here,
 * and the store keys entries on it.
 */
import type { KvRotation } from './fused/rotation';
import type { RangeSearch } from './quantize/clip';

export type Bits = 2 | 4 | 8 | 16;
export type EvictionPolicy = 'none' | 'snapkv' | 'defensive' | 'h2o';
export type LayerBudget = 'uniform' | 'pyramid' | 'pyramid-up' | 'adaptive' | 'joint';
export type Layout = 'parallel' | 'sequential';
export type Aggregation = 'max' | 'mean';
/** How the 2-bit block is stored and read (quant-layout.ts): `auto` picks `fused` wherever it can hold the config. */
export type QuantLayout = 'auto' | 'kivi' | 'fused';

export interface CacheConfig {
  kBits: Bits;
  vBits: Bits;
  /** Tokens per key group (keys are quantized per channel over groups of kept tokens) and channels per value group. */
  groupSize: number;
  /** Leading tokens of the shared prefix kept at full precision and never evicted. */
  sinkTokens: number;
  /** Fraction of each segment's tokens kept after eviction (1 = none evicted). */
  keepRatio: number;
  eviction: EvictionPolicy;
  /** Observation window: the last `window` query positions (segment tail + look-ahead probe). */
  window: number;
  /** Average-pooling kernel along keys for window attention (SnapKV / DefensiveKV: 5). */
  poolKernel: number;
  /** How window queries and grouped query heads are combined: `max` (DefensiveKV) or `mean` (SnapKV). */
  aggregation: Aggregation;
  /** DefensiveKV's prior-risk correction (raise scores to their head's mean) in the `defensive` scorer. */
  headMeanClamp: boolean;
  layerBudget: LayerBudget;
  layout: Layout;
  /** Layers whose keys get more bits: `auto` = chosen by calibration, `none`, or explicit layer indices. */
  protectLayers: 'auto' | 'none' | number[];
  /** Bits for protected layers' keys. */
  protectBits: Bits;
  /**
   * `kivi`: keys per channel, values per token, dequantized in the graph before attention; `fused`: the
   * transposed axes in onnxruntime's MatMulNBits layout, one fused dequantize-and-multiply per product.
   */
  quantLayout: QuantLayout;
  /**
   * Fused layout: tokens per value block (values are quantized per channel over blocks of kept tokens), also the
   * keys' center group. Keys are quantized per token over `groupSize` channels.
   */
  valueBlock: number;
  /** Quantize keys before rotary embedding (KVQuant) instead of after (KIVI layout only). */
  preRopeKeys: boolean;
  /** APE: temperature on the attention to repository segments and a scaling factor; 1 and 1 = off. */
  apeTemperature: number;
  apeScale: number;
  /** Repository tokens attended per query; null = from the model's context length. */
  contextBudget: number | null;
  /**
   * What evicted slots become: dropped (default: nothing is stored or attended), or kept as slots holding a
   * neutral filler's keys and values ("Probing the Prompt KV Cache") or zeros (the baseline that collapses).
   */
  emptiedSlots: 'drop' | 'filler' | 'zeros';
  /**
   * Fused layout: store quantized keys and values Hadamard-rotated per head, the query and the block's context
   * rotated to match in the graph (src/cache/fused/rotation.ts), so attention is unchanged up to quantization.
   * The KIVI layout stores its blocks unrotated whatever this says.
   */
  kvRotation: KvRotation;
  /** Each quantization group's range: its min and max, or the least squared error (src/cache/quantize/clip.ts). */
  rangeSearch: RangeSearch;
}

export const DEFAULT_CACHE_CONFIG: CacheConfig = {
  kBits: 2,
  vBits: 2,
  // Issue 10 (BENCHMARKS.md): with rotated keys and least-squares ranges, 64-channel key groups lose nothing
  // against 32 and pay for the last layer's 4-bit keys.
  groupSize: 64,
  sinkTokens: 4,
  keepRatio: 0.5,
  eviction: 'defensive',
  window: 32,
  poolKernel: 5,
  aggregation: 'max',
  // Chosen from the scorer × allocator grid on the development repositories (BENCHMARKS.md): without the clamp
  // and with one budget across layers the default scorer keeps the most fidelity at both 50 % and 25 %.
  headMeanClamp: false,
  layerBudget: 'joint',
  layout: 'parallel',
  protectLayers: 'auto',
  protectBits: 4,
  // The fused layout decodes 1.2–2.7× faster than the 16-bit cache and meets the fidelity targets; the KIVI layout
  // with keys before rotary is more faithful still but 2–3.5× slower than the 16-bit cache (BENCHMARKS.md). Fused
  // attention multiplies stored keys directly, so they are kept after rotary.
  quantLayout: 'auto',
  // Value blocks of 64 tokens bring the fused layout to 10.5× at half the tokens kept, with KL still well inside
  // the target; blocks of 32 stay under 10× (BENCHMARKS.md).
  valueBlock: 64,
  preRopeKeys: false,
  apeTemperature: 1,
  apeScale: 1,
  contextBudget: null,
  emptiedSlots: 'drop',
  // Rotation and least-squares ranges together halve-to-third the 2-bit KL from `full` on coder-15m (issue 10).
  kvRotation: 'hadamard',
  rangeSearch: 'mse',
};
