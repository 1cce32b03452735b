/**
 * Rules that keep a file out of the index by its name or content: binary, minified, generated, oversized.
 * Each returns a reason code and a human detail, so that `repokv index` can say why a file is missing.
 */

export type SkipReason =
  | 'gitignored'
  | 'excluded'
  | 'vendored'
  | 'secret'
  | 'binary'
  | 'minified'
  | 'generated'
  | 'oversized'
  | 'symlink'
  | 'unreadable';

export interface Skip {
  reason: SkipReason;
  detail: string;
}

export interface ContentLimits {
  /** Larger files are skipped as oversized (bytes). Default 1 MiB. */
  maxFileBytes?: number;
  /** A line longer than this marks the file minified. Default 4000 characters. */
  maxLineLength?: number;
  /** A mean line length above this (in files over 2 KB) marks the file minified. Default 400. */
  maxMeanLineLength?: number;
}

export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

/** Lockfiles and other files that tools write and people do not. */
const GENERATED_NAMES = new Set([
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'bun.lock',
  'bun.lockb',
  'deno.lock',
  'cargo.lock',
  'poetry.lock',
  'pipfile.lock',
  'pdm.lock',
  'uv.lock',
  'composer.lock',
  'gemfile.lock',
  'podfile.lock',
  'pubspec.lock',
  'mix.lock',
  'flake.lock',
  'go.sum',
  'gradle.lockfile',
  'packages.lock.json',
  'paket.lock',
  'package.resolved',
]);

const GENERATED_SUFFIXES = [
  /[.-]min\.(js|mjs|cjs|css)$/,
  /\.(js|css)\.map$/,
  /\.pb\.go$/,
  /_pb2(_grpc)?\.pyi?$/,
  /\.pb\.(h|cc)$/,
  /\.g\.dart$/,
  /\.freezed\.dart$/,
  /\.designer\.cs$/,
  /\.generated\.[a-z]+$/,
  /_generated\.[a-z]+$/,
];

export function generatedByName(relPath: string): Skip | null {
  const name = relPath.slice(relPath.lastIndexOf('/') + 1).toLowerCase();
  if (GENERATED_NAMES.has(name)) return { reason: 'generated', detail: 'lockfile' };
  const suffix = GENERATED_SUFFIXES.find((re) => re.test(name));
  return suffix ? { reason: 'generated', detail: `name matches ${suffix.source}` } : null;
}

/** Lines that look like comments in most languages: only there does a generator marker count. */
const COMMENT_LINE = /^\s*(\/\/|\/\*|\*|#|--|;|<!--|%|'|rem\b)/i;
/**
 * Markers that generators write near the top (Go's "Code generated ... DO NOT" + "EDIT", Meta's at-generated,
 * "This file was automatically generated"). Spelled in pieces here so that this file does not look generated.
 */
const GENERATED_MARKERS: RegExp[] = [
  new RegExp('@' + 'generated\\b'),
  new RegExp('DO NOT ' + 'EDIT'),
  new RegExp('(file|code) (is|was) (automatically |auto-?)gene' + 'rated', 'i'),
  new RegExp('automatically gene' + 'rated by', 'i'),
];
const MARKER_WINDOW_LINES = 30;

/** Decodes UTF-8 strictly; null when the bytes are not valid UTF-8. */
function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Classifies a file's bytes. Returns the decoded text when the file is to be indexed, else why not. The BOM,
 * if any, stays in the text: segments must give the file back byte for byte.
 */
export function classifyContent(bytes: Uint8Array, limits: ContentLimits = {}): { text: string } | Skip {
  const maxBytes = limits.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (bytes.length > maxBytes) return { reason: 'oversized', detail: `${bytes.length} bytes > ${maxBytes}` };
  const head = bytes.subarray(0, 8192);
  if (head.includes(0)) return { reason: 'binary', detail: 'NUL byte in the first 8 KB' };
  const text = decodeUtf8(bytes);
  if (text === null) return { reason: 'binary', detail: 'not valid UTF-8' };

  const maxLine = limits.maxLineLength ?? 4000;
  const maxMean = limits.maxMeanLineLength ?? 400;
  let longest = 0;
  let lines = 0;
  for (let start = 0; start <= text.length;) {
    const nl = text.indexOf('\n', start);
    const end = nl === -1 ? text.length : nl;
    longest = Math.max(longest, end - start);
    lines++;
    if (nl === -1) break;
    start = nl + 1;
  }
  if (longest > maxLine) return { reason: 'minified', detail: `a line of ${longest} characters` };
  const mean = text.length / lines;
  if (text.length > 2048 && mean > maxMean)
    return { reason: 'minified', detail: `mean line length ${Math.round(mean)}` };

  const top = text.split('\n', MARKER_WINDOW_LINES);
  const marker = top.find((line) => COMMENT_LINE.test(line) && GENERATED_MARKERS.some((re) => re.test(line)));
  if (marker) return { reason: 'generated', detail: `marker: ${marker.trim().slice(0, 80)}` };
  return { text };
}
