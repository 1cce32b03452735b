/**
 * The cache statistics as the statistics page shows them: summary figures and bar charts, computed here (pure,
 * tested) so that the page's script only draws what it is given. Charts are kept short (the largest entries and
 * an "other" bar), since a bar per file of a large repository tells nothing.
 */
import type { CacheStatistics } from '../sidecar/protocol';
import { formatBytes, formatCount, formatPercent, formatRatio } from './format';

export interface Bar {
  readonly label: string;
  readonly value: number;
  /** The value as shown next to the bar. */
  readonly display: string;
}

export interface Chart {
  readonly title: string;
  readonly caption: string;
  readonly bars: readonly Bar[];
  /** The value of a full-width bar; the largest bar when absent. */
  readonly max?: number;
}

export interface StatsPage {
  readonly summary: readonly { readonly label: string; readonly value: string }[];
  readonly charts: readonly Chart[];
  readonly skipped: readonly { readonly path: string; readonly reason: string }[];
}

/** Bars per chart of files or folders; the rest is summed into one. */
const TOP = 12;
const MAX_SKIPPED_ROWS = 200;

export function statsPage(s: CacheStatistics): StatsPage {
  const lookups = s.hits + s.misses;
  const hitRate = lookups > 0 ? s.hits / lookups : NaN;
  const summary = [
    { label: 'Files', value: formatCount(s.files) },
    { label: 'Segments', value: formatCount(s.segments) },
    { label: 'Tokens', value: formatCount(s.tokens) },
    { label: 'Kept tokens', value: `${formatCount(s.keptTokens)} (${formatPercent(s.keptTokens / s.tokens)})` },
    { label: 'Cache size', value: formatBytes(s.bytes) },
    { label: 'Bytes per token', value: `${round(s.bytesPerToken)} (fp16 ${round(s.fp16BytesPerToken)})` },
    { label: 'Compression vs fp16', value: formatRatio(s.compressionRatio) },
    { label: 'Hit rate', value: lookups > 0 ? `${formatPercent(hitRate)} of ${formatCount(lookups)}` : '–' },
    { label: 'Prefill throughput', value: `${formatCount(s.prefillTokensPerSecond)} tokens/s` },
    { label: 'Execution provider', value: s.provider },
  ];
  const charts: Chart[] = [
    {
      title: 'Memory per folder',
      caption: 'Bytes of cache held for the files under each top-level folder.',
      bars: topBars(byFolder(s.bytesPerFile), formatBytes),
    },
    {
      title: 'Memory per file',
      caption: 'The files holding the most cache.',
      bars: topBars(s.bytesPerFile, formatBytes),
    },
    {
      title: 'Kept ratio per layer',
      caption: 'Fraction of the tokens each layer keeps after eviction.',
      bars: perLayer(s.keptRatioPerLayer, formatPercent),
      max: 1,
    },
    {
      title: 'Key bits per layer',
      caption: 'Bits per key value; protected layers (outlier quantization error) get more.',
      bars: perLayer(s.keyBitsPerLayer, (v) => `${v} bits`),
      max: 16,
    },
    {
      title: 'Key quantization error per layer',
      caption: 'Relative Frobenius error of dequantized vs original keys.',
      bars: perLayer(s.quantError.keys, (v) => v.toFixed(3)),
    },
    {
      title: 'Value quantization error per layer',
      caption: 'Relative Frobenius error of dequantized vs original values.',
      bars: perLayer(s.quantError.values, (v) => v.toFixed(3)),
    },
    {
      title: 'Segment lookups',
      caption: 'Served from the cache (memory or disk) vs prefilled.',
      bars: [
        { label: 'hits', value: s.hits, display: formatCount(s.hits) },
        { label: 'misses', value: s.misses, display: formatCount(s.misses) },
      ],
    },
  ];
  return { summary, charts, skipped: s.skipped.slice(0, MAX_SKIPPED_ROWS) };
}

/** Bytes per top-level folder; files at the root are grouped under "(root)". */
export function byFolder(bytesPerFile: Readonly<Record<string, number>>): Record<string, number> {
  const folders: Record<string, number> = {};
  for (const [path, bytes] of Object.entries(bytesPerFile)) {
    const slash = path.indexOf('/');
    const folder = slash < 0 ? '(root)' : `${path.slice(0, slash)}/`;
    folders[folder] = (folders[folder] ?? 0) + bytes;
  }
  return folders;
}

/** The largest entries as bars, largest first, and the rest summed as one "other" bar. */
export function topBars(values: Readonly<Record<string, number>>, display: (v: number) => string, top = TOP): Bar[] {
  const sorted = Object.entries(values)
    .filter(([, v]) => Number.isFinite(v))
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const bars = sorted.slice(0, top).map(([label, value]) => ({ label, value, display: display(value) }));
  const rest = sorted.slice(top);
  if (rest.length > 0) {
    const value = rest.reduce((sum, [, v]) => sum + v, 0);
    bars.push({ label: `${rest.length} others`, value, display: display(value) });
  }
  return bars;
}

function perLayer(values: readonly number[], display: (v: number) => string): Bar[] {
  return values.map((value, layer) => ({ label: `layer ${layer}`, value, display: display(value) }));
}

function round(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toFixed(2))) : '–';
}
