import { describe, expect, it } from 'vitest';
import { DEFAULT_CACHE_CONFIG, type CacheConfig } from '../../src/cache/cache-config';
import { canonicalJson, isSegmentKey, keyedConfig, segmentKey, type SegmentKeyParts } from '../../src/cache/store';

const BASE: SegmentKeyParts = {
  modelId: 'qwen2.5-coder-1.5b@sha256:0123',
  config: keyedConfig(DEFAULT_CACHE_CONFIG),
  sinkPrefix: '<|repo_name|>repokv\n',
  segmentText: '<|file_sep|>src/a.ts\nexport const a = 1;\n',
};

/** The same object with its keys inserted in reverse order, at every depth. */
function reversed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversed);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reversed(v)]),
    );
  }
  return value;
}

describe('segmentKey', () => {
  it('is a stable sha256 hex of the same inputs', () => {
    const k = segmentKey(BASE);
    expect(isSegmentKey(k)).toBe(true);
    expect(segmentKey({ ...BASE, config: { ...BASE.config } })).toBe(k);
    expect(segmentKey(structuredClone(BASE))).toBe(k);
  });

  it('does not depend on the order of configuration keys, at any depth', () => {
    const nested = { b: 1, a: { y: [3, { q: 1, p: 2 }], x: 'z' } };
    expect(canonicalJson(nested)).toBe('{"a":{"x":"z","y":[3,{"p":2,"q":1}]},"b":1}');
    expect(segmentKey({ ...BASE, config: reversed(nested) as object })).toBe(segmentKey({ ...BASE, config: nested }));
    expect(segmentKey({ ...BASE, config: reversed(BASE.config) as object })).toBe(segmentKey(BASE));
  });

  it('changes with the model, any keyed config field, the sink prefix and the text', () => {
    const base = segmentKey(BASE);
    const variants: SegmentKeyParts[] = [
      { ...BASE, modelId: BASE.modelId + 'x' },
      { ...BASE, sinkPrefix: '<|repo_name|>other\n' },
      { ...BASE, sinkPrefix: '' },
      { ...BASE, segmentText: BASE.segmentText + ' ' },
      { ...BASE, segmentText: '' },
      // Boundaries between parts must not shift: moving a character from the sink to the text is a new key.
      { ...BASE, sinkPrefix: BASE.sinkPrefix.slice(0, -1), segmentText: '\n' + BASE.segmentText },
    ];
    const changes: Partial<CacheConfig>[] = [
      { kBits: 4 },
      { vBits: 16 },
      { groupSize: 32 },
      { sinkTokens: 8 },
      { keepRatio: 0.25 },
      { eviction: 'snapkv' },
      { window: 16 },
      { poolKernel: 7 },
      { aggregation: 'mean' },
      { layerBudget: 'adaptive' },
      { protectLayers: [0, 27] },
      { protectLayers: [27, 0] },
      { protectBits: 8 },
      { preRopeKeys: true },
      { quantLayout: 'kivi' },
      { headMeanClamp: true },
      { kvRotation: 'none' },
      { rangeSearch: 'minmax' },
      { valueBlock: 128 },
    ];
    for (const change of changes) {
      variants.push({ ...BASE, config: keyedConfig({ ...DEFAULT_CACHE_CONFIG, ...change }) });
    }
    const keys = variants.map(segmentKey);
    expect(keys).not.toContain(base);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('ignores query-time fields, which do not change a segment’s bytes', () => {
    const queryTime: Partial<CacheConfig> = {
      layout: 'sequential',
      apeTemperature: 0.9,
      apeScale: 1.1,
      contextBudget: 8192,
    };
    const config = keyedConfig({ ...DEFAULT_CACHE_CONFIG, ...queryTime });
    expect(segmentKey({ ...BASE, config })).toBe(segmentKey(BASE));
  });

  it('refuses configuration values JSON would silently collapse', () => {
    for (const bad of [NaN, Infinity, -Infinity, () => 1, 1n, new Date(0), new Map()]) {
      expect(() => segmentKey({ ...BASE, config: { x: bad } })).toThrow(TypeError);
    }
    expect(canonicalJson({ a: undefined, b: [undefined] })).toBe('{"b":[null]}');
  });
});
