import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findCandidates, makeTasks, sampleCandidates } from '../../src/eval/make-tasks';
import { readTasks, writeTasks, type CrossFileTask } from '../../src/eval/task-file';

const REPO = path.resolve(__dirname, '..', 'fixtures', 'eval', 'mini-repo');

/**
 * Every candidate of the fixture, as `file:identifier`. What is left out, and why:
 * - client.ts `formatBytes` (a comment mentions it earlier), `parseHeader` (imported by name), `createLogger`
 *   (defined in four files, and in client.ts itself), `retryBudget` (second identifier on the RetryPolicy line);
 * - headers.ts: `DEFAULT_TIMEOUT_MS` first appears as a property name, `retryBudget` as a local (bindings);
 * - worker.ts: `describeSize` only inside a multi-line template literal's continuation line;
 * - server.ts `privateScratch`: not exported from util.ts; legacy.js `DEFAULT_TIMEOUT_MS`: line over 200 chars,
 *   `toHeaderCase`: destructured from require();
 * - tasks.py `MAX_WORKERS` (mentioned in a comment first), `AbstractEventLoop` (imported by name);
 * - runner.py `run_task` (`self.run_task`: a member, not the module function), `get_event_loop` (a method
 *   definition first).
 */
const EXPECTED = [
  'pkg/runner.py:MAX_WORKERS',
  'pkg/tasks.py:_set_running_loop',
  'pkg/tasks.py:get_event_loop',
  'src/client.ts:DEFAULT_TIMEOUT_MS',
  'src/client.ts:LogLevel',
  'src/client.ts:RequestMethod',
  'src/client.ts:RetryPolicy',
  'src/legacy.js:formatBytes',
  'src/server.ts:retryBudget',
  'src/server.ts:toHeaderCase',
];

const escape = (s: string): string => s.replace(/[$.*+?^(){}[\]|\\]/g, '\\$&');
const texts = new Map<string, string>();
const read = (rel: string): string => {
  if (!texts.has(rel)) texts.set(rel, fs.readFileSync(path.join(REPO, rel), 'utf8'));
  return texts.get(rel)!;
};

/** The task's invariants, checked against the files with plain string operations (independent of the generator). */
function expectValid(task: CrossFileTask): void {
  const text = read(task.file);
  const lines = text.split('\n');
  const line = lines[task.line]!.replace(/\r$/, '');
  expect(task.character).toBe(/^[ \t]*/.exec(line)![0].length);
  expect(line.slice(task.character)).toBe(task.groundTruth);
  expect(task.groundTruth.trim()).not.toBe('');
  expect(task.groundTruth).not.toMatch(/^(import|from\s+\S+\s+import|\/\/|#|\/\*)/);
  expect(task.groundTruth.slice(task.identifierOffset, task.identifierOffset + task.identifier.length)).toBe(
    task.identifier,
  );
  // strict: not anywhere in the file before the line
  const before = lines.slice(0, task.line).join('\n');
  expect(before.includes(task.identifier)).toBe(false);
  expect(task.definedIn).not.toBe(task.file);
  const id = escape(task.identifier);
  const definition = new RegExp(
    `(def|class|function|interface|type|enum|const)\\s+${id}\\b|^${id}\\s*=|export\\s*\\{[^}]*\\b${id}\\b`,
    'm',
  );
  expect(read(task.definedIn)).toMatch(definition);
  expect(task.repo).toBe(REPO);
  expect(task.id).toBe(`${task.file}#L${task.line + 1}`);
}

describe('makeTasks on the mini repository', () => {
  it('finds exactly the strict cross-file candidates', async () => {
    const candidates = await findCandidates(REPO);
    expect(candidates.map((c) => `${c.file}:${c.identifier}`).sort()).toEqual(EXPECTED);
    const defined = Object.fromEntries(candidates.map((c) => [c.identifier, c.definedIn]));
    expect(defined).toMatchObject({
      MAX_WORKERS: 'pkg/events.py',
      toHeaderCase: 'src/headers.ts',
      formatBytes: 'src/util.ts',
    });
  });

  it('gives valid tasks', async () => {
    const tasks = await makeTasks(REPO, { count: 100, seed: 1 });
    expect(tasks).toHaveLength(EXPECTED.length);
    for (const task of tasks) expectValid(task);
    expect(new Set(tasks.map((t) => t.id)).size).toBe(tasks.length);
  });

  it('is deterministic for a seed and differs for another', async () => {
    const a = await makeTasks(REPO, { count: 100, seed: 1 });
    const b = await makeTasks(REPO, { count: 100, seed: 1 });
    const c = await makeTasks(REPO, { count: 100, seed: 2 });
    expect(b).toEqual(a);
    expect(c.map((t) => t.id)).not.toEqual(a.map((t) => t.id));
    expect([...c].sort((x, y) => x.id.localeCompare(y.id))).toEqual([...a].sort((x, y) => x.id.localeCompare(y.id)));
    const small = await Promise.all([1, 2, 3, 4, 5].map((seed) => makeTasks(REPO, { count: 3, seed })));
    expect(new Set(small.map((s) => s.map((t) => t.id).join())).size).toBeGreaterThan(1);
  });

  it('respects the count and spreads tasks across files', async () => {
    for (const count of [0, 1, 4, 5]) {
      const tasks = await makeTasks(REPO, { count, seed: 7 });
      expect(tasks).toHaveLength(count);
      // five files hold candidates: up to five tasks, each from its own file (cap ceil(count / 4) = 1 or 2)
      const perFile = new Map<string, number>();
      for (const t of tasks) perFile.set(t.file, (perFile.get(t.file) ?? 0) + 1);
      expect(Math.max(0, ...perFile.values())).toBeLessThanOrEqual(Math.ceil(count / 4));
    }
  });

  it('rejects a bad count or seed', async () => {
    await expect(makeTasks(REPO, { count: -1, seed: 1 })).rejects.toThrow(/count/);
    await expect(makeTasks(REPO, { count: 2, seed: 0.5 })).rejects.toThrow(/seed/);
  });
});

describe('sampleCandidates', () => {
  const many = Array.from({ length: 40 }, (_, i) => ({ file: i < 30 ? 'big.ts' : `f${i}.ts`, n: i }));

  it('caps each file at ceil(count / 4) while other files still have candidates', () => {
    const picked = sampleCandidates(many, 12, 3);
    expect(picked).toHaveLength(12);
    expect(picked.filter((c) => c.file === 'big.ts')).toHaveLength(3);
  });

  it('fills up from capped files when there are too few others', () => {
    const picked = sampleCandidates(many, 20, 3);
    expect(picked).toHaveLength(20);
    expect(new Set(picked.map((c) => c.n)).size).toBe(20);
    expect(picked.filter((c) => c.file !== 'big.ts')).toHaveLength(10);
  });
});

describe('tasks file round trip', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-tasks-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('stores repo relative to the tasks file and resolves it back', async () => {
    const tasks = await makeTasks(REPO, { count: 5, seed: 3 });
    const file = path.join(dir, 'bench', 'tasks', 'mini.jsonl');
    await writeTasks(file, tasks);
    const raw = fs
      .readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(raw).toHaveLength(5);
    const relative = path.relative(path.dirname(file), REPO).split(path.sep).join('/');
    for (const r of raw) {
      expect(r.repo).toBe(relative);
      expect(Object.keys(r)).toEqual([
        'id',
        'repo',
        'file',
        'line',
        'character',
        'groundTruth',
        'identifier',
        'identifierOffset',
        'definedIn',
      ]);
    }
    expect(await readTasks(file)).toEqual(tasks);
  });
});
