/**
 * Evaluation tasks and their JSONL file (DESIGN section 7): one task per line,
 * `{id, repo, file, line, character, groundTruth}` plus the cross-file fields of generated tasks.
 *
 * In memory `repo` is an absolute path; on disk it is relative to the tasks file's directory, so that task
 * files committed under bench/ stay valid in any clone. `file` is repository-relative with forward slashes,
 * `line` and `character` are zero-based (UTF-16 code units, as VS Code counts them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface EvalTask {
  id: string;
  /** Absolute path of the repository (relative to the tasks file's directory on disk). */
  repo: string;
  /** Repository-relative path, forward slashes. */
  file: string;
  line: number;
  character: number;
  /** The rest of the line after the cursor, without the line break. */
  groundTruth: string;
  /** The cross-file identifier the line uses (generated tasks always carry the three fields below). */
  identifier?: string;
  /** Offset of `identifier` within `groundTruth`. */
  identifierOffset?: number;
  /** Repository-relative path of the file that defines `identifier`. */
  definedIn?: string;
}

export type CrossFileTask = EvalTask & Required<Pick<EvalTask, 'identifier' | 'identifierOffset' | 'definedIn'>>;

const toPosix = (p: string): string => p.split(path.sep).join('/');

/** The on-disk form of a task: fixed key order, `repo` relative to `dir`. */
function serialize(task: EvalTask, dir: string): string {
  const repo = toPosix(path.relative(dir, path.resolve(task.repo))) || '.';
  const out: Record<string, unknown> = {
    id: task.id,
    repo,
    file: task.file,
    line: task.line,
    character: task.character,
    groundTruth: task.groundTruth,
  };
  if (task.identifier !== undefined) out.identifier = task.identifier;
  if (task.identifierOffset !== undefined) out.identifierOffset = task.identifierOffset;
  if (task.definedIn !== undefined) out.definedIn = task.definedIn;
  return JSON.stringify(out);
}

/** Writes tasks as JSONL (through a temporary file, so a reader never sees half a file). */
export async function writeTasks(file: string, tasks: readonly EvalTask[]): Promise<void> {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  await fs.promises.mkdir(dir, { recursive: true });
  const body = tasks.map((t) => serialize(t, dir) + '\n').join('');
  const tmp = `${abs}.${process.pid}.tmp`;
  await fs.promises.writeFile(tmp, body, 'utf8');
  await fs.promises.rename(tmp, abs);
}

const isNonNegativeInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Why a parsed line is not a task, or null when it is one. */
function problem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const t = value as Record<string, unknown>;
  for (const key of ['id', 'repo', 'file', 'groundTruth']) {
    if (typeof t[key] !== 'string') return `"${key}" must be a string`;
  }
  if (t.id === '') return '"id" must not be empty';
  if (t.repo === '') return '"repo" must not be empty';
  const file = t.file as string;
  if (file === '' || file.includes('\\') || path.posix.isAbsolute(file) || file.split('/').includes('..')) {
    return `"file" must be a repository-relative path with forward slashes, got ${JSON.stringify(file)}`;
  }
  if (!isNonNegativeInt(t.line)) return '"line" must be a non-negative integer';
  if (!isNonNegativeInt(t.character)) return '"character" must be a non-negative integer';
  if ((t.groundTruth as string).includes('\n')) return '"groundTruth" must not contain a line break';
  const cross = ['identifier', 'identifierOffset', 'definedIn'].filter((k) => t[k] !== undefined);
  if (cross.length === 0) return null;
  if (cross.length !== 3) return '"identifier", "identifierOffset" and "definedIn" go together';
  if (typeof t.identifier !== 'string' || t.identifier === '') return '"identifier" must be a non-empty string';
  if (typeof t.definedIn !== 'string' || t.definedIn === '') return '"definedIn" must be a non-empty string';
  if (!isNonNegativeInt(t.identifierOffset)) return '"identifierOffset" must be a non-negative integer';
  const at = (t.groundTruth as string).slice(t.identifierOffset, t.identifierOffset + t.identifier.length);
  if (at !== t.identifier)
    return `"identifier" ${JSON.stringify(t.identifier)} is not at identifierOffset in groundTruth`;
  return null;
}

/**
 * Reads and validates a tasks file. Blank lines are ignored; any other invalid line is an error naming the
 * file and the (1-based) line number. `repo` comes back resolved against the tasks file's directory.
 */
export async function readTasks(file: string): Promise<EvalTask[]> {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const text = await fs.promises.readFile(abs, 'utf8');
  const tasks: EvalTask[] = [];
  const ids = new Map<string, number>();
  text.split('\n').forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trim();
    if (line === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new Error(`${file}:${lineNo}: invalid JSON: ${(err as Error).message}`, { cause: err });
    }
    const why = problem(value);
    if (why) throw new Error(`${file}:${lineNo}: invalid task: ${why}`);
    const t = value as EvalTask;
    const previous = ids.get(t.id);
    if (previous !== undefined)
      throw new Error(`${file}:${lineNo}: duplicate task id ${JSON.stringify(t.id)} (first on line ${previous})`);
    ids.set(t.id, lineNo);
    const task: EvalTask = {
      id: t.id,
      repo: path.resolve(dir, t.repo),
      file: t.file,
      line: t.line,
      character: t.character,
      groundTruth: t.groundTruth,
    };
    if (t.identifier !== undefined) {
      task.identifier = t.identifier;
      task.identifierOffset = t.identifierOffset;
      task.definedIn = t.definedIn;
    }
    tasks.push(task);
  });
  return tasks;
}
