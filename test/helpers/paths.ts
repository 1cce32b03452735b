import * as os from 'node:os';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** The fast test model: tests that need no particular model name it explicitly. */
export const TINY_MODEL = path.join(REPO_ROOT, 'models', 'tiny-coder');
/** The default model of the CLI, the sidecar and the extension. */
export const CODER_MODEL = path.join(REPO_ROOT, 'models', 'coder-15m');

/**
 * One graph cache for the whole test run: graphs are content-addressed and written atomically, so test files
 * running in parallel share builds safely and the suite builds each graph once.
 */
export const TEST_CACHE_DIR = process.env.REPOKV_CACHE_DIR ?? path.join(os.tmpdir(), 'repokv-test-cache');
