/**
 * Workspace scan: which files of a folder enter the index, and why each other one does not.
 *
 * Path rules, first match wins: version-control folders (never reported), vendored dependency folders,
 * secrets, exclude globs (`files.exclude`, `repokv.exclude`), `.gitignore` files (nested ones apply below
 * their folder, deeper rules override shallower ones, `.git/info/exclude` at the root). Then name rules
 * (lockfiles, `*.min.js`...), size, and content (binary, minified, generated marker).
 *
 * Vendored folders (`node_modules`, `vendor`, virtualenvs, tool caches) are skipped even when not ignored:
 * they hold other people's code, often more of it than the repository's own, and the cache budget is better
 * spent on the code being edited. `includeVendored: true` turns this off.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import {
  classifyContent,
  DEFAULT_MAX_FILE_BYTES,
  generatedByName,
  type ContentLimits,
  type Skip,
  type SkipReason,
} from './file-filters';
import { GlobSet, type ExcludeSetting } from './glob';
import { languageForPath, type LanguageId } from './languages';
import { isSecretPath } from './secrets';

export interface ScanOptions extends ContentLimits {
  /** Exclude settings (`files.exclude`, `repokv.exclude`): lists of globs or VS Code's glob → boolean maps. */
  exclude?: readonly ExcludeSetting[];
  /** Honour .gitignore files (default true). */
  gitignore?: boolean;
  /** Index vendored dependency folders too (default false). */
  includeVendored?: boolean;
  /** Stops the scan (it then rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface ScannedFile {
  /** Repository-relative, forward slashes. */
  path: string;
  absPath: string;
  /** The grammar's language, or 'text' for the line chunker. */
  language: LanguageId | 'text';
  size: number;
}

export interface SkippedFile {
  /** Repository-relative; folders end with '/'. */
  path: string;
  reason: SkipReason;
  detail: string;
}

export interface ScanResult {
  files: ScannedFile[];
  skipped: SkippedFile[];
}

const VCS_DIRS = new Set(['.git', '.hg', '.svn', '.jj']);
const VENDORED_DIRS = new Set([
  'node_modules',
  'bower_components',
  'jspm_packages',
  'vendor',
  '.venv',
  'venv',
  'site-packages',
  '__pycache__',
  '.tox',
  '.nox',
  '.mypy_cache',
  '.pytest_cache',
  '.ruff_cache',
  '.gradle',
  '.next',
  '.nuxt',
  '.svelte-kit',
  '.turbo',
  '.parcel-cache',
  '.yarn',
  '.pnpm-store',
  '.terraform',
  'Pods',
  '.cache',
  '.repokv',
]);

/** Path-based rules, with .gitignore files loaded lazily per folder and cached. */
export class WorkspaceFilter {
  private readonly globs: GlobSet;
  private readonly ignores = new Map<string, Ignore | null>();

  constructor(
    readonly root: string,
    private readonly options: ScanOptions = {},
  ) {
    this.globs = new GlobSet(options.exclude ?? []);
  }

  /** Forgets a folder's .gitignore (call when it changed). */
  invalidateGitignore(dirRel: string): void {
    this.ignores.delete(dirRel);
  }

  /** Why `relPath` is left out by its path alone, or null. Folders are checked as the walk enters them. */
  pathSkip(relPath: string, isDirectory: boolean): Skip | null {
    const parts = relPath.split('/');
    const dirs = isDirectory ? parts : parts.slice(0, -1);
    const vcs = parts.find((p) => VCS_DIRS.has(p));
    if (vcs) return { reason: 'excluded', detail: `version control folder ${vcs}` };
    if (!this.options.includeVendored) {
      const vendored = dirs.find((p) => VENDORED_DIRS.has(p));
      if (vendored) return { reason: 'vendored', detail: `vendored folder ${vendored}` };
    }
    if (isSecretPath(isDirectory ? `${relPath}/x` : relPath)) return { reason: 'secret', detail: 'secret file name' };
    const glob = this.globs.match(relPath, isDirectory, (name) =>
      this.exists(path.posix.join(path.posix.dirname(relPath), name)),
    );
    if (glob) return { reason: 'excluded', detail: `exclude pattern /${glob}/` };
    if (this.options.gitignore !== false) {
      const rule = this.gitignoreRule(relPath, isDirectory);
      if (rule) return { reason: 'gitignored', detail: rule };
    }
    return null;
  }

  private exists(relPath: string): boolean {
    return fs.existsSync(path.join(this.root, relPath));
  }

  private ignoreFor(dirRel: string): Ignore | null {
    if (this.ignores.has(dirRel)) return this.ignores.get(dirRel)!;
    const sources = [path.join(this.root, dirRel, '.gitignore')];
    if (dirRel === '') sources.push(path.join(this.root, '.git', 'info', 'exclude'));
    let ig: Ignore | null = null;
    for (const file of sources) {
      let content: string;
      try {
        content = fs.readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      ig ??= ignore();
      ig.add(content);
    }
    this.ignores.set(dirRel, ig);
    return ig;
  }

  /** The deciding .gitignore rule, deeper files overriding shallower ones (a `!rule` there re-includes). */
  private gitignoreRule(relPath: string, isDirectory: boolean): string | null {
    const parts = relPath.split('/');
    let verdict: string | null = null;
    for (let depth = 0; depth < parts.length; depth++) {
      const dirRel = parts.slice(0, depth).join('/');
      const ig = this.ignoreFor(dirRel);
      if (!ig) continue;
      const rel = parts.slice(depth).join('/') + (isDirectory ? '/' : '');
      const result = ig.test(rel);
      if (result.ignored) verdict = `${dirRel ? `${dirRel}/` : ''}.gitignore: ${result.rule?.pattern ?? '?'}`;
      else if (result.unignored) verdict = null;
    }
    return verdict;
  }
}

/** Reads a file under the content rules (size, binary, minified, generated): its text, or why it is skipped. */
export async function readIndexable(
  absPath: string,
  relPath: string,
  limits: ContentLimits = {},
): Promise<{ text: string } | Skip> {
  const byName = generatedByName(relPath);
  if (byName) return byName;
  try {
    const stat = await fs.promises.stat(absPath);
    const max = limits.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    if (stat.size > max) return { reason: 'oversized', detail: `${stat.size} bytes > ${max}` };
    return classifyContent(await fs.promises.readFile(absPath), limits);
  } catch (err) {
    return { reason: 'unreadable', detail: (err as Error).message };
  }
}

/** Walks `root` and sorts every file into indexed or skipped (with the reason), in path order. */
export async function scanWorkspace(root: string, options: ScanOptions = {}): Promise<ScanResult> {
  const absRoot = path.resolve(root);
  const filter = new WorkspaceFilter(absRoot, options);
  const files: ScannedFile[] = [];
  const skipped: SkippedFile[] = [];

  const walk = async (dirRel: string): Promise<void> => {
    options.signal?.throwIfAborted();
    const entries = await fs.promises.readdir(path.join(absRoot, dirRel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const candidates: string[] = [];
    for (const entry of entries) {
      const rel = dirRel ? `${dirRel}/${entry.name}` : entry.name;
      if (entry.isSymbolicLink()) {
        // not followed: a link can leave the workspace, loop, or index the same file twice
        skipped.push({ path: rel, reason: 'symlink', detail: 'symbolic links are not followed' });
      } else if (entry.isDirectory()) {
        const skip = filter.pathSkip(rel, true);
        if (!skip) await walk(rel);
        else if (!VCS_DIRS.has(entry.name)) skipped.push({ path: `${rel}/`, ...skip });
      } else if (entry.isFile()) {
        const skip = filter.pathSkip(rel, false);
        if (skip) skipped.push({ path: rel, ...skip });
        else candidates.push(rel);
      }
    }
    // Content checks read whole files: a few at a time keeps the disk busy without holding many in memory.
    for (let i = 0; i < candidates.length; i += 16) {
      const batch = candidates.slice(i, i + 16);
      const results = await Promise.all(batch.map((rel) => readIndexable(path.join(absRoot, rel), rel, options)));
      results.forEach((result, j) => {
        const rel = batch[j]!;
        if ('text' in result) {
          files.push({
            path: rel,
            absPath: path.join(absRoot, rel),
            language: languageForPath(rel) ?? 'text',
            size: Buffer.byteLength(result.text, 'utf8'),
          });
        } else {
          skipped.push({ path: rel, ...result });
        }
      });
    }
  };

  await walk('');
  const byPath = (a: { path: string }, b: { path: string }): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return { files: files.sort(byPath), skipped: skipped.sort(byPath) };
}
