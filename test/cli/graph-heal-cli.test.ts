/**
 * What a user sees when the graph cache is damaged: the command still answers the same, stderr has one line
 * about the repair and nothing else; and an unexpected error is one line unless -v asks for the stack trace.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-heal-cli-'));
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));

function generate(cacheDir: string, ...extra: string[]) {
  const args = [CLI, 'generate', '--prompt', 'def add(a, b):', '--max-tokens', '4', '--temperature', '0', ...extra];
  return spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, REPOKV_CACHE_DIR: cacheDir } });
}

describe('repokv with a damaged graph cache (built CLI)', () => {
  it('repairs a truncated shared weights file with one line on stderr and answers the same', () => {
    const cacheDir = path.join(ROOT, 'cache');
    const before = generate(cacheDir);
    expect(before.status).toBe(0);
    expect(before.stderr).toBe('');
    const weightsDir = path.join(cacheDir, 'graphs', 'weights');
    const shared = fs.readdirSync(weightsDir).filter((f) => f.endsWith('.bin'));
    expect(shared).toHaveLength(1);
    fs.truncateSync(path.join(weightsDir, shared[0]!), 1000);

    const after = generate(cacheDir);
    expect(after.status).toBe(0);
    expect(after.stdout).toBe(before.stdout);
    expect(after.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^repokv: graph cache: \w+ was damaged \(weights\.bin has 1000 bytes, \d+ expected\)/),
    ]);
    expect(generate(cacheDir).stderr).toBe('');
  });

  it('prints an unexpected error as one line, and its stack trace only with -v', () => {
    // A cache directory under a regular file cannot be created: an error no user-facing check anticipates.
    const file = path.join(ROOT, 'not-a-dir');
    fs.writeFileSync(file, '');
    const quiet = generate(path.join(file, 'cache'));
    expect(quiet.status).not.toBe(0);
    expect(quiet.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^repokv: error: ENOTDIR.*\(run with -v for details\)$/),
    ]);
    const verbose = generate(path.join(file, 'cache'), '-v');
    expect(verbose.status).not.toBe(0);
    expect(verbose.stderr).toMatch(/repokv: error: Error: ENOTDIR[^\n]*\n\s+at /);
  });
});
