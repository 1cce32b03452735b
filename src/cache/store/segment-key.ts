/**
 * Content addresses for cached segments. A segment's KV depends on the model's weights, the cache configuration
 * that shaped its bytes, the sink prefix it attended to at prefill, its own text, and the entry format; the key
 * hashes exactly those, so equal inputs share an entry across restarts and any change lands on a fresh one.
 */
import { createHash } from 'node:crypto';
import type { CacheConfig } from '../cache-config';
import { STORE_FORMAT_VERSION } from './entry-format';

export interface SegmentKeyParts {
  /** The checkpoint's identity (weights, not a path): two copies of one model share entries. */
  modelId: string;
  /** The configuration fields that change a segment's bytes (see `keyedConfig`). */
  config: object;
  sinkPrefix: string;
  segmentText: string;
}

/**
 * Fields read only at query time (layout, APE knobs, the attention budget): a segment's stored bytes do not depend
 * on them, so they stay out of the key. A deny list rather than an allow list, so that a field added to CacheConfig
 * later is keyed by default: forgetting it costs extra misses, never a wrong cache hit.
 */
const QUERY_TIME_FIELDS: ReadonlySet<keyof CacheConfig> = new Set<keyof CacheConfig>([
  'layout',
  'apeTemperature',
  'apeScale',
  'contextBudget',
]);

/**
 * The part of a cache configuration that the key covers. `protectLayers: 'auto'` should be resolved to the
 * calibrated layer list by the caller when calibration can change between runs of the same model.
 */
export function keyedConfig(config: CacheConfig): Partial<CacheConfig> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(config)) {
    if (!QUERY_TIME_FIELDS.has(name as keyof CacheConfig)) out[name] = value;
  }
  return out as Partial<CacheConfig>;
}

/**
 * JSON with object keys sorted at every depth, so that two equal configurations built in different orders hash
 * alike. Values JSON cannot represent faithfully are refused rather than silently collapsed: NaN and ±Infinity
 * would all become `null` and collide, a function or a bigint has no JSON form at all.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`canonicalJson: only plain objects and arrays, got ${proto?.constructor?.name}`);
    }
    const record = value as Record<string, unknown>;
    // Keys whose value is undefined are absent in JSON; keeping that rule makes `{a: undefined}` equal `{}`.
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
  }
  throw new TypeError(`canonicalJson: cannot encode a ${typeof value}`);
}

/** sha256 (hex) of the parts. Each part is a JSON string inside one array, so no two part lists share an encoding. */
export function segmentKey(parts: SegmentKeyParts): string {
  const material = JSON.stringify([
    'repokv-segment',
    STORE_FORMAT_VERSION,
    parts.modelId,
    canonicalJson(parts.config),
    parts.sinkPrefix,
    parts.segmentText,
  ]);
  return createHash('sha256').update(material, 'utf8').digest('hex');
}

const KEY_PATTERN = /^[0-9a-f]{64}$/;

/** Keys become file names: anything but 64 lowercase hex digits is refused (no path tricks, one spelling). */
export function isSegmentKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}
