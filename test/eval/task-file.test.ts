import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTasks, writeTasks, type EvalTask } from '../../src/eval/task-file';

const good = {
  id: 'a.ts#L3',
  repo: '../repos/demo',
  file: 'src/a.ts',
  line: 2,
  character: 4,
  groundTruth: 'return util.fooBar(x);',
};

describe('readTasks / writeTasks', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-taskfile-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, lines: unknown[]): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
    return file;
  };

  it('reads the DESIGN fields alone (no cross-file fields) and skips blank lines', async () => {
    const file = write('plain.jsonl', [good, '', '   ']);
    const tasks = await readTasks(file);
    expect(tasks).toEqual([{ ...good, repo: path.resolve(dir, '../repos/demo') }]);
  });

  it('writes "." for a repository in the tasks file directory, and forward slashes', async () => {
    const repo = path.join(dir, 'nested', 'repo');
    const task: EvalTask = { ...good, repo, identifier: 'fooBar', identifierOffset: 12, definedIn: 'src/util.ts' };
    await writeTasks(path.join(repo, 'tasks.jsonl'), [task]);
    await writeTasks(path.join(dir, 'out', 'tasks.jsonl'), [task]);
    expect(JSON.parse(fs.readFileSync(path.join(repo, 'tasks.jsonl'), 'utf8')).repo).toBe('.');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'out', 'tasks.jsonl'), 'utf8')).repo).toBe('../nested/repo');
    expect(await readTasks(path.join(dir, 'out', 'tasks.jsonl'))).toEqual([task]);
  });

  it.each([
    ['malformed JSON', '{"id": "x",', /bad\.jsonl:2: invalid JSON/],
    ['an array', '[1, 2]', /bad\.jsonl:2: invalid task: not a JSON object/],
    [
      'a missing field',
      JSON.stringify({ ...good, id: 'b', groundTruth: undefined }),
      /bad\.jsonl:2: invalid task: "groundTruth" must be a string/,
    ],
    ['a negative line', JSON.stringify({ ...good, id: 'b', line: -1 }), /:2: invalid task: "line"/],
    ['a fractional character', JSON.stringify({ ...good, id: 'b', character: 1.5 }), /:2: invalid task: "character"/],
    [
      'a path leaving the repository',
      JSON.stringify({ ...good, id: 'b', file: '../x.ts' }),
      /:2: invalid task: "file"/,
    ],
    ['a backslash path', JSON.stringify({ ...good, id: 'b', file: 'src\\a.ts' }), /:2: invalid task: "file"/],
    [
      'a line break in the ground truth',
      JSON.stringify({ ...good, id: 'b', groundTruth: 'a\nb' }),
      /:2: invalid task: "groundTruth"/,
    ],
    [
      'half of the cross-file fields',
      JSON.stringify({ ...good, id: 'b', identifier: 'fooBar' }),
      /:2: invalid task: .*go together/,
    ],
    [
      'an identifier not at its offset',
      JSON.stringify({ ...good, id: 'b', identifier: 'fooBar', identifierOffset: 3, definedIn: 'u.ts' }),
      /:2: invalid task: "identifier" "fooBar" is not at identifierOffset/,
    ],
    ['a duplicate id', JSON.stringify(good), /:2: duplicate task id "a.ts#L3" \(first on line 1\)/],
  ])('names the line of %s', async (_what, line, message) => {
    const file = write('bad.jsonl', [good, line, good]);
    await expect(readTasks(file)).rejects.toThrow(message);
  });
});
