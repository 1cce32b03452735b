/**
 * Checks of incoming params. The TypeScript types of protocol.ts say nothing at run time: a peer with another
 * protocol version, a bug, or bytes that are not our client at all can send anything, and a wrong type reaching
 * the engine fails far from its cause (or worse, half-applies an edit). So every message is checked here first,
 * and the error names the method and the field, e.g. `complete: params.line must be an integer ≥ 0 (got "3")`.
 */
import type { CacheSettings, ExcludeSetting, ServiceSettings, TextChange } from './service';
import type {
  ChatParams,
  DidChangeParams,
  DidCloseParams,
  DidOpenParams,
  EmptyParams,
  FileChangedParams,
  InitializeParams,
  ValidateModelParams,
} from './protocol';
import type { CompletionRequest } from './service';

export class InvalidParamsError extends Error {
  override readonly name = 'InvalidParamsError';
}

type Check<T> = (value: unknown, at: string) => T;

function fail(at: string, expected: string, value: unknown): never {
  let shown: string;
  try {
    shown = value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
  } catch {
    shown = typeof value;
  }
  if (shown.length > 40) shown = `${shown.slice(0, 37)}...`;
  throw new InvalidParamsError(`${at} must be ${expected} (got ${shown})`);
}

const str: Check<string> = (v, at) => (typeof v === 'string' ? v : fail(at, 'a string', v));
const nonEmpty: Check<string> = (v, at) => (typeof v === 'string' && v !== '' ? v : fail(at, 'a non-empty string', v));
const count: Check<number> = (v, at) =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : fail(at, 'an integer ≥ 0', v);
/** VS Code versions start at 1, but a file store may start at 0; negative or fractional ones are bugs. */
const version = count;

function range(lo: number, hi: number): Check<number> {
  return (v, at) =>
    typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi ? v : fail(at, `a number in [${lo}, ${hi}]`, v);
}

function oneOf<T extends string | number>(values: readonly T[]): Check<T> {
  return (v, at) => (values.includes(v as T) ? (v as T) : fail(at, `one of ${values.join(', ')}`, v));
}

function optional<T>(check: Check<T>): Check<T | undefined> {
  return (v, at) => (v === undefined ? undefined : check(v, at));
}

function nullable<T>(check: Check<T>): Check<T | null> {
  return (v, at) => (v === null ? null : check(v, at));
}

function arrayOf<T>(check: Check<T>): Check<T[]> {
  return (v, at) => (Array.isArray(v) ? v.map((item, i) => check(item, `${at}[${i}]`)) : fail(at, 'an array', v));
}

function record(v: unknown, at: string): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : fail(at, 'an object', v);
}

/** An object with exactly the checked fields (unknown extra fields are dropped, not passed on). */
function object<T>(shape: { [K in keyof T]-?: Check<T[K]> }): Check<T> {
  return (v, at) => {
    const o = record(v, at);
    const out = {} as T;
    for (const key of Object.keys(shape) as (keyof T & string)[]) {
      const value = shape[key](o[key], `${at}.${key}`);
      if (value !== undefined) out[key] = value;
    }
    return out;
  };
}

const position = object<{ line: number; character: number }>({ line: count, character: count });

const textChange = object<TextChange>({
  range: object<TextChange['range']>({ start: position, end: position }),
  rangeOffset: count,
  rangeLength: count,
  text: str,
});

const exclude: Check<ExcludeSetting> = (v, at) => {
  if (Array.isArray(v)) return arrayOf(str)(v, at);
  const o = record(v, at);
  const out: Record<string, boolean | { when: string }> = {};
  for (const [glob, value] of Object.entries(o)) {
    out[glob] = typeof value === 'boolean' ? value : object<{ when: string }>({ when: str })(value, `${at}[${glob}]`);
  }
  return out;
};

const cacheSettings = object<CacheSettings>({
  kvBits: oneOf([2, 4, 8, 16] as const),
  keepRatio: range(0.01, 1),
  sinkTokens: (v, at) => (count(v, at) <= 1024 ? (v as number) : fail(at, 'at most 1024', v)),
  eviction: oneOf(['none', 'snapkv', 'defensive', 'h2o'] as const),
  maxMemoryMB: range(1, 1 << 20),
});

const settings = object<ServiceSettings>({
  modelPath: str,
  executionProvider: oneOf(['auto', 'cuda', 'webgpu', 'cpu'] as const),
  weightBits: optional(oneOf(['auto', 4, 8, 32] as const)),
  cache: cacheSettings,
  cacheDir: nonEmpty,
  exclude: arrayOf(exclude),
});

const role = oneOf(['user', 'assistant'] as const);

/** One parser per method: `params` as received, the typed params back, or InvalidParamsError. */
export const parsers = {
  initialize: object<InitializeParams>({ folders: arrayOf(nonEmpty), settings }),
  complete: object<CompletionRequest>({
    path: nonEmpty,
    text: str,
    version,
    line: count,
    character: count,
    maxTokens: (v, at) => (count(v, at) >= 1 && (v as number) <= 4096 ? (v as number) : fail(at, 'in [1, 4096]', v)),
  }),
  chat: object<ChatParams>({
    requestId: nonEmpty,
    messages: arrayOf(object<ChatParams['messages'][number]>({ role, content: str })),
    attachments: optional(arrayOf(object<{ path: string; text: string }>({ path: str, text: str }))),
    maxTokens: optional(count),
  }),
  empty: ((v, at) => {
    // Absent params are fine for a request without any; anything present must still be an object.
    if (v !== undefined) record(v, at);
    return {};
  }) as Check<EmptyParams>,
  validateModel: object<ValidateModelParams>({ path: nonEmpty }),
  didOpen: object<DidOpenParams>({ path: nonEmpty, version, text: str }),
  didChange: object<DidChangeParams>({ path: nonEmpty, version, changes: arrayOf(textChange) }),
  didClose: object<DidCloseParams>({ path: nonEmpty }),
  fileChanged: object<FileChangedParams>({ path: nonEmpty, text: nullable(str) }),
} satisfies Record<string, Check<unknown>>;

/** Parses `params` of `method` or throws InvalidParamsError naming both. */
export function parseParams<K extends keyof typeof parsers>(
  kind: K,
  method: string,
  params: unknown,
): ReturnType<(typeof parsers)[K]> {
  try {
    return parsers[kind](params, 'params') as ReturnType<(typeof parsers)[K]>;
  } catch (err) {
    if (err instanceof InvalidParamsError) throw new InvalidParamsError(`${method}: ${err.message}`);
    throw err;
  }
}
