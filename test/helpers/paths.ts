import * as os from 'node:os';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const TINY_MODEL = path.join(REPO_ROOT, 'models', 'tiny-coder');

/**
 * One graph cache for the whole test run: graphs are content-addressed and written atomically, so test files
 * running in parallel share builds safely and the suite builds each graph once.
 */
export const TEST_CACHE_DIR = process.env.REPOKV_CACHE_DIR ?? path.join(os.tmpdir(), 'repokv-test-cache');
