/**
 * `repokv eval make-tasks`: repository-level, cross-file next-line completion tasks (RepoBench /
 * CrossCodeEval spirit, and the "Cross-file context test" of models/tiny-coder/README.md).
 *
 * A candidate is a line of a file B that uses an identifier X defined at top level in another file A, where X
 * is specific (see `isSpecificIdentifier`), defined in at most MAX_DEFINING_FILES files, not defined in B, and
 * does not occur anywhere in B before the line, not even inside a longer word, a string or an import: the model
 * can then only get X right by copying it from A. The cursor sits after the line's indentation; the ground
 * truth is the rest of the line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { seededRandom } from '../engine/sampling';
import { loadLanguage, parseText } from '../syntax/parser';
import { scanWorkspace } from '../syntax/scan';
import { analyzeFile, contentStart, isSpecificIdentifier, lineOf, lineStarts, type FileAnalysis } from './identifiers';
import type { CrossFileTask } from './task-file';

export interface MakeTasksOptions {
  /** How many tasks to return (fewer when the repository has fewer candidates). */
  count: number;
  /** Which sample of the candidates: the same seed gives the same tasks. */
  seed: number;
}

/** A name defined in more files than this is too generic to say where it comes from. */
export const MAX_DEFINING_FILES = 3;
/** Longer lines are data or generated code, and cost the evaluation more tokens than they tell. */
export const MAX_GROUND_TRUTH_CHARS = 200;
/** Per-file share of the tasks: one big file must not dominate the sample. */
const FILE_SHARE = 4;

interface SourceFile {
  path: string;
  text: string;
  analysis: FileAnalysis;
}

export interface Candidate {
  file: string;
  line: number;
  character: number;
  groundTruth: string;
  identifier: string;
  identifierOffset: number;
  definedIn: string;
}

/** Type declaration files describe code that lives elsewhere: a definition there is the second choice. */
const isDeclarationFile = (p: string): boolean => /\.d\.[cm]?ts$|\.pyi$/.test(p);

function commonPrefixLength(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  let n = 0;
  while (n < pa.length - 1 && n < pb.length - 1 && pa[n] === pb[n]) n++;
  return n;
}

/** Of several defining files, the one B most likely takes X from: real code, nearest folder, then path order. */
function chooseDefiner(user: string, definers: readonly string[]): string {
  const ranked = [...definers].sort(
    (a, b) =>
      Number(isDeclarationFile(a)) - Number(isDeclarationFile(b)) ||
      commonPrefixLength(user, b) - commonPrefixLength(user, a) ||
      (a < b ? -1 : a > b ? 1 : 0),
  );
  return ranked[0]!;
}

async function loadSources(root: string): Promise<SourceFile[]> {
  const scan = await scanWorkspace(root);
  const sources: SourceFile[] = [];
  for (const file of scan.files) {
    if (file.language === 'text') continue;
    let text = await fs.promises.readFile(file.absPath, 'utf8');
    // editors drop the byte-order mark from the document, and `character` must count as they do
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    await loadLanguage(file.language);
    const tree = parseText(file.language, text);
    try {
      sources.push({ path: file.path, text, analysis: analyzeFile(text, file.language, tree) });
    } finally {
      tree.delete();
    }
  }
  return sources;
}

/** The candidate lines of one file B, at most one per line (its first qualifying identifier). */
function candidatesOf(b: SourceFile, sharedBy: ReadonlyMap<string, string[]>): Candidate[] {
  const { text, analysis } = b;
  const starts = lineStarts(text);
  const byLine = new Map<number, Candidate>();
  for (const use of analysis.firstUses) {
    // only the first node of a name can qualify (every later one has that node before it), and only as a reference
    if (use.role !== 'plain' && use.role !== 'via-import') continue;
    const definers = sharedBy.get(use.name)?.filter((p) => p !== b.path);
    if (!definers || definers.length === 0 || analysis.declared.has(use.name)) continue;
    const line = lineOf(starts, use.start);
    // strict: no earlier occurrence at all, so the identifier can only be copied from A
    if (text.indexOf(use.name) < starts[line]! || analysis.excludedLines.has(line) || byLine.has(line)) continue;
    const from = contentStart(text, starts, line);
    let end = line + 1 < starts.length ? starts[line + 1]! - 1 : text.length;
    if (text[end - 1] === '\r') end--;
    const groundTruth = text.slice(from, end);
    if (groundTruth.length > MAX_GROUND_TRUTH_CHARS) continue;
    byLine.set(line, {
      file: b.path,
      line,
      character: from - starts[line]!,
      groundTruth,
      identifier: use.name,
      identifierOffset: use.start - from,
      definedIn: chooseDefiner(b.path, definers),
    });
  }
  return [...byLine.values()];
}

/** Every candidate of the repository, in canonical (path, line) order. */
export async function findCandidates(repoDir: string): Promise<Candidate[]> {
  const sources = await loadSources(path.resolve(repoDir));
  const declaredIn = new Map<string, number>();
  for (const s of sources) for (const n of s.analysis.declared) declaredIn.set(n, (declaredIn.get(n) ?? 0) + 1);
  const sharedBy = new Map<string, string[]>();
  for (const s of sources) {
    for (const n of s.analysis.shared) {
      if (!isSpecificIdentifier(n) || (declaredIn.get(n) ?? 0) > MAX_DEFINING_FILES) continue;
      const list = sharedBy.get(n) ?? [];
      list.push(s.path);
      sharedBy.set(n, list);
    }
  }
  // canonical order, independent of how the scan or the tree walk happened to list them
  return sources
    .flatMap((s) => candidatesOf(s, sharedBy))
    .sort((x, y) => (x.file < y.file ? -1 : x.file > y.file ? 1 : x.line - y.line));
}

/**
 * A seeded sample of `count` candidates, at most ceil(count / 4) per file while other files still have
 * some. The result keeps the shuffled order, so that any prefix of a task list is itself a random sample.
 */
export function sampleCandidates<T extends { file: string }>(
  candidates: readonly T[],
  count: number,
  seed: number,
): T[] {
  const shuffled = [...candidates];
  const random = seededRandom(seed);
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const cap = Math.ceil(count / FILE_SHARE);
  const perFile = new Map<string, number>();
  const picked: T[] = [];
  const rest: T[] = [];
  for (const c of shuffled) {
    const n = perFile.get(c.file) ?? 0;
    if (picked.length < count && n < cap) {
      picked.push(c);
      perFile.set(c.file, n + 1);
    } else {
      rest.push(c);
    }
  }
  // too few files to respect the cap: fill up from the rest, still in shuffled order
  return picked.concat(rest.slice(0, Math.max(0, count - picked.length)));
}

/** Generates `count` cross-file next-line tasks from the repository at `repoDir` (deterministic for a seed). */
export async function makeTasks(repoDir: string, opts: MakeTasksOptions): Promise<CrossFileTask[]> {
  if (!Number.isInteger(opts.count) || opts.count < 0)
    throw new RangeError(`count must be a non-negative integer, got ${opts.count}`);
  if (!Number.isInteger(opts.seed)) throw new RangeError(`seed must be an integer, got ${opts.seed}`);
  const repo = path.resolve(repoDir);
  const candidates = await findCandidates(repo);
  return sampleCandidates(candidates, opts.count, opts.seed).map((c) => ({
    id: `${c.file}#L${c.line + 1}`,
    repo,
    file: c.file,
    line: c.line,
    character: c.character,
    groundTruth: c.groundTruth,
    identifier: c.identifier,
    identifierOffset: c.identifierOffset,
    definedIn: c.definedIn,
  }));
}
