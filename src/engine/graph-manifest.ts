/**
 * What a cached graph directory should hold, written beside it when it is built (`manifest.json`: every file's
 * size and sha256), and the check made before a session opens it.
 *
 * Cost of the check. Size is free (one stat per file) and catches the usual damage: a copy or a disk that ran
 * out of space, a truncated download of a cache dir. A full sha256 is not free: 2 GiB of fp32 weights (a 0.5B
 * checkpoint) hash in 4.3 s here (0.50 GB/s, page-cached; reading alone takes 0.72 s; BENCHMARKS.md, issue 11),
 * which every CLI command would pay before loading. So the full hash runs when a file is first seen and again
 * only when its identity changes: after each full hash we remember (device, inode, size, mtime in ns) in
 * `verified.json`, and a later check whose stat matches skips the hash. Any write through the file system
 * (a bit flip by a tool, a partial rewrite, a truncation, a replaced file) changes mtime or the inode; a hard
 * link made by another variant changes only ctime, which is why ctime is not part of the stamp. What this does
 * not catch is a same-size rewrite that restores mtime, or media decay under an unchanged stat; for those,
 * DecoderSession re-checks with a full hash when a session fails to open (graph-cache.ts healDecoderGraph).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const MANIFEST_FILE = 'manifest.json';
const STAMP_FILE = 'verified.json';

export interface GraphManifest {
  format: 1;
  /** GRAPH_BUILDER_VERSION of the builder that wrote the graph. */
  builder: number;
  files: Record<string, { size: number; sha256: string }>;
}

export function sha256File(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(1 << 24);
    for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** The identity a full hash is remembered under (see the file comment for why these fields). */
export function fileStamp(file: string): string {
  const s = fs.statSync(file, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 1));
  fs.renameSync(tmp, file);
}

/** Whether `name` in `dir` was hashed in its current state (its stamp is remembered and still matches). */
export function isRemembered(dir: string, name: string): boolean {
  const stamps = readJson<Record<string, string>>(path.join(dir, STAMP_FILE));
  try {
    return stamps?.[name] === fileStamp(path.join(dir, name));
  } catch {
    return false;
  }
}

/** Remembers that `name` in `dir` was hashed in its current state; best effort (a read-only cache still works). */
export function rememberVerified(dir: string, names: string[]): void {
  try {
    const stamps = readJson<Record<string, string>>(path.join(dir, STAMP_FILE)) ?? {};
    for (const name of names) stamps[name] = fileStamp(path.join(dir, name));
    writeJsonAtomic(path.join(dir, STAMP_FILE), stamps);
  } catch {
    // The next check hashes again: slower, never wrong.
  }
}

/**
 * Records every file of a freshly built graph directory. `known` holds hashes already computed while building
 * (the weights, hashed to share them), so that no file is read twice.
 */
export function writeManifest(dir: string, builder: number, known: Record<string, string> = {}): void {
  const files: GraphManifest['files'] = {};
  for (const name of fs.readdirSync(dir).sort()) {
    if (name === MANIFEST_FILE || name === STAMP_FILE) continue;
    const file = path.join(dir, name);
    const stat = fs.statSync(file);
    if (!stat.isFile()) continue;
    files[name] = { size: stat.size, sha256: known[name] ?? sha256File(file) };
  }
  writeJsonAtomic(path.join(dir, MANIFEST_FILE), { format: 1, builder, files } satisfies GraphManifest);
  rememberVerified(dir, Object.keys(files));
}

/**
 * What is wrong with a graph directory, or null when it matches its manifest. `full` hashes every file whatever
 * its stamp says. A directory without a manifest was written before manifests existed: it cannot be checked,
 * so it counts as damaged and is rebuilt once (cheaper than being wrong; the rebuild shares weights as before).
 */
export function checkGraphDir(dir: string, full = false): string | null {
  const manifest = readJson<GraphManifest>(path.join(dir, MANIFEST_FILE));
  if (!manifest) {
    return fs.existsSync(path.join(dir, MANIFEST_FILE))
      ? 'its manifest is unreadable'
      : 'it has no manifest (written by an older RepoKV)';
  }
  const stamps = full ? {} : (readJson<Record<string, string>>(path.join(dir, STAMP_FILE)) ?? {});
  const hashed: string[] = [];
  for (const [name, want] of Object.entries(manifest.files)) {
    const file = path.join(dir, name);
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      return `${name} is missing`;
    }
    if (size !== want.size) return `${name} has ${size} bytes, ${want.size} expected`;
    if (stamps[name] === fileStamp(file)) continue;
    if (sha256File(file) !== want.sha256) return `${name} does not match its checksum`;
    hashed.push(name);
  }
  if (hashed.length) rememberVerified(dir, hashed);
  return null;
}
