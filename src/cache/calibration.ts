/**
 * Which layers' keys need more than 2 bits, decided per model by measurement, not by a fixed list (DESIGN §3:
 * Qwen2-family models carry huge key biases in some layers, and every protected layer costs compression).
 *
 * The calibration pass prefills a fixed, built-in set of short code samples after the sink, measures each
 * layer's relative 2-bit KIVI key error, and protects the layers whose error is an outlier: above
 * `OUTLIER_FACTOR` × the median over layers, and the last layer (see `keyBitsFromErrors`). A fixed corpus makes the decision a function of the model alone,
 * so every index of any repository with the same model and configuration stores the same bytes.
 */
import type { DecoderSession } from '../engine/decoder-session';
import type { PlainKvCache } from '../engine/kv-cache';
import type { Bits, CacheConfig } from './cache-config';
import { kiviKeyError2bit } from './quantize';
import { gatherHead, scoreSegment } from './segment-prefill';

export const OUTLIER_FACTOR = 1.5;

export const CALIBRATION_SAMPLES = [
  'def read_config(path):\n    """Load a JSON configuration file."""\n    with open(path) as f:\n        data = json.load(f)\n    return {k.lower(): v for k, v in data.items()}\n\n\nclass Cache:\n    def __init__(self, size=128):\n        self.size = size\n        self.items = {}\n',
  'export function debounce<T extends (...args: unknown[]) => void>(fn: T, ms: number): T {\n  let timer: ReturnType<typeof setTimeout> | undefined;\n  return ((...args: unknown[]) => {\n    clearTimeout(timer);\n    timer = setTimeout(() => fn(...args), ms);\n  }) as T;\n}\n',
  'const express = require("express");\nconst app = express();\n\napp.get("/users/:id", async (req, res) => {\n  const user = await db.users.find(req.params.id);\n  if (!user) return res.status(404).send("not found");\n  res.json(user);\n});\n',
];

export interface Calibration {
  /** Relative 2-bit key error per layer (mean over samples and heads), of the keys the configuration quantizes. */
  keyError2bit: number[];
  /** The same for keys after rotary and before rotary, so a derived configuration can choose either. */
  errors: { postRope: number[]; preRope: number[] };
  /** Bits for each layer's keys. */
  keyBits: Bits[];
}

/** The calibration as it applies to `config` (which keys, which bits). */
export function calibrationFor(errors: Calibration['errors'], config: CacheConfig): Calibration {
  const keyError2bit = config.preRopeKeys ? errors.preRope : errors.postRope;
  return { keyError2bit, errors, keyBits: keyBitsFromErrors(keyError2bit, config) };
}

export function keyBitsFromErrors(
  errors: number[],
  config: Pick<CacheConfig, 'kBits' | 'protectBits' | 'protectLayers'>,
): Bits[] {
  const { kBits, protectBits, protectLayers } = config;
  const higher = (kBits === 16 ? 16 : Math.max(kBits, protectBits)) as Bits;
  if (protectLayers === 'none') return errors.map(() => kBits);
  // Negative indices count from the last layer (−1 = the last), so a list can name "the last layer" of any model.
  if (Array.isArray(protectLayers)) {
    const n = errors.length;
    return errors.map((_, l) => (protectLayers.includes(l) || protectLayers.includes(l - n) ? higher : kBits));
  }
  const sorted = [...errors].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1]!;
  // The last layer is protected too: on coder-15m its 2-bit keys alone lose nearly all of the context gain that
  // 2-bit keys lose (KL from full 0.053 of 0.055; every other layer alone ≤ 0.001, BENCHMARKS.md, issue 10),
  // while its relative key error is no outlier. One layer of keys at 4 bits costs about 4 % of the ratio.
  return errors.map((e, l) => (e > OUTLIER_FACTOR * median || l === errors.length - 1 ? higher : kBits));
}

export async function calibrate(
  scoring: DecoderSession,
  sink: PlainKvCache,
  encode: (text: string) => number[],
  config: CacheConfig,
): Promise<Calibration> {
  const { numLayers, numKvHeads: KV, headDim: d } = scoring.config;
  const sums = { postRope: new Float64Array(numLayers), preRope: new Float64Array(numLayers) };
  let count = 0;
  for (const text of CALIBRATION_SAMPLES) {
    const ids = encode(text);
    const scored = await scoreSegment({ ids, headerTokens: 0 }, scoring, sink, [], config.window);
    const all = Array.from({ length: ids.length }, (_, i) => i);
    for (const [kind, keys] of [
      ['postRope', scored.rawKeys],
      ['preRope', scored.rawKeysPreRope],
    ] as const) {
      for (let l = 0; l < numLayers; l++) {
        for (let h = 0; h < KV; h++) {
          sums[kind][l]! += kiviKeyError2bit(gatherHead(keys[l]!, all, h, KV, d), ids.length, d, config.groupSize);
        }
      }
    }
    count += KV;
  }
  const errors = {
    postRope: Array.from(sums.postRope, (x) => x / count),
    preRope: Array.from(sums.preRope, (x) => x / count),
  };
  return calibrationFor(errors, config);
}
