/** Where RepoKV keeps derived data by default: the user's cache directory, never the repository. */
import envPaths from 'env-paths';
import * as fs from 'node:fs';
import * as path from 'node:path';

export function defaultCacheDir(): string {
  return process.env.REPOKV_CACHE_DIR || envPaths('repokv', { suffix: '' }).cache;
}

/** The model every entry point (CLI, sidecar, extension) uses when none is named. */
export const DEFAULT_MODEL_NAME = 'coder-15m';

/**
 * A model shipped with RepoKV, found relative to the running bundle (dist/) or to the sources (src/engine/).
 * Default: coder-15m; tiny-coder (fast tests, explicit choice) is found the same way.
 */
export function bundledModelDir(name: string = DEFAULT_MODEL_NAME): string {
  const candidates = [
    path.resolve(__dirname, '..', 'models', name),
    path.resolve(__dirname, '..', '..', 'models', name),
  ];
  return candidates.find((c) => fs.existsSync(path.join(c, 'config.json'))) ?? candidates[0]!;
}
