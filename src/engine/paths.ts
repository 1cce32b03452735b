/** Where RepoKV keeps derived data by default: the user's cache directory, never the repository. */
import envPaths from 'env-paths';
import * as fs from 'node:fs';
import * as path from 'node:path';

export function defaultCacheDir(): string {
  return process.env.REPOKV_CACHE_DIR || envPaths('repokv', { suffix: '' }).cache;
}

/** The bundled tiny model, found relative to the running bundle (dist/) or to the sources (src/engine/). */
export function bundledModelDir(): string {
  const candidates = [
    path.resolve(__dirname, '..', 'models', 'tiny-coder'),
    path.resolve(__dirname, '..', '..', 'models', 'tiny-coder'),
  ];
  return candidates.find((c) => fs.existsSync(path.join(c, 'config.json'))) ?? candidates[0]!;
}
