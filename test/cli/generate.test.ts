/**
 * The built CLI reproduces the golden greedy continuations: `repokv generate --prompt-file P --json`, on the
 * default model (coder-15m, no --model) and on tiny-coder named with --model.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readGolden } from '../helpers/golden';
import { CODER_MODEL, REPO_ROOT, TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const MODELS = [
  { name: 'the default model (coder-15m)', dir: CODER_MODEL, args: [] as string[] },
  { name: 'tiny-coder (--model)', dir: TINY_MODEL, args: ['--model', TINY_MODEL] },
];

function runCli(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, REPOKV_CACHE_DIR: TEST_CACHE_DIR },
  });
}

describe('repokv generate (built CLI)', () => {
  it('dist/cli.js exists (npm test builds first)', () => {
    expect(fs.existsSync(CLI)).toBe(true);
  });

  for (const model of MODELS) {
    for (const prompt of readGolden(model.dir)) {
      it(`${model.name} reproduces the golden continuation of ${prompt.name}`, () => {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-cli-')), 'prompt.txt');
        fs.writeFileSync(file, prompt.text);
        const out = execFileSync(
          process.execPath,
          [CLI, 'generate', '--prompt-file', file, '--max-tokens', '24', '--temperature', '0', '--json', ...model.args],
          { encoding: 'utf8', env: { ...process.env, REPOKV_CACHE_DIR: TEST_CACHE_DIR } },
        );
        const result = JSON.parse(out) as { text: string; tokens: number; promptTokens: number; ms: number };
        expect(result.text).toBe(prompt.greedy.text);
        expect(result.tokens).toBe(24);
        expect(result.promptTokens).toBe(prompt.ids.length);
        expect(result.ms).toBeGreaterThan(0);
      });
    }
  }

  it('names the problem when the model folder is wrong', () => {
    const res = runCli(['generate', '--prompt', 'x', '--model', '/nonexistent/model', '--json']);
    expect(res.status).not.toBe(0);
    expect(res.stderr).toContain('/nonexistent/model');
    expect(res.stdout).toBe('');
  });

  it('rejects a bad --max-tokens with a clear message', () => {
    const res = runCli(['generate', '--prompt', 'x', '--max-tokens', 'many', '--model', TINY_MODEL]);
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/--max-tokens must be an integer/);
  });
});
