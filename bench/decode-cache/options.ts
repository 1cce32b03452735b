/** The options shared by the decode-step and block-kernel measurements (`node dist/bench.js decode-cache`). */
export interface DecodeCacheOptions {
  contexts: number[];
  /** Measured rounds (each runs a burst of decode steps of every variant). */
  steps: number;
  /** Consecutive steps of one variant per round (the first is not counted). */
  burst: number;
  bits: 2 | 4 | 8;
  /** KIVI group (tokens per key group, channels per value group). */
  groupSize: number;
  /** Fused layout: channels per key block, tokens per value block. */
  keyBlock: number;
  valueBlock: number;
  /** Fused layout: center keys over value blocks (quantize.ts). */
  centerKeys: boolean;
  /** Fused layout: Hadamard-rotated keys and values, queries and context rotated in the graph (the default). */
  rotate?: boolean;
  /** Tokens per synthetic segment (the default maxSegmentTokens). */
  segmentTokens: number;
  /** Intra-op threads of every session (default: onnxruntime's, as the engine runs). */
  threads?: number;
  log?: (line: string) => void;
}
