/**
 * Files of the store and the write protocol that keeps them whole: bytes go to a temp file beside the final name,
 * are fsynced, then renamed over it. A reader (this process after a crash, or another process right now) sees
 * either no file or a complete one; only the temp file can be partial, and its name says whose it was.
 *
 *   <dir>/v<version>/meta.json
 *   <dir>/v<version>/<key[0..2]>/<key>.seg
 *   <dir>/v<version>/<key[0..2]>/.<key>.<pid>.<random>.tmp      (a write in progress, or a crashed one)
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ENTRY_SUFFIX = '.seg';
const TEMP_PATTERN = /^\.([0-9a-f]{64}|meta)\.(\d+)\.[0-9a-f]+\.tmp$/;
/** Bytes per write call: bounds one syscall's size, and gives crash tests a partial-write point to stop at. */
const WRITE_CHUNK = 1 << 20;
/**
 * A temp file older than this is stale even if its pid is alive: after a crash and restart (containers reuse low
 * pids) an unrelated process can hold the pid, and no real write takes anywhere near this long.
 */
const STALE_TEMP_MS = 10 * 60 * 1000;

export function versionDir(root: string, version: number): string {
  return path.join(root, `v${version}`);
}

export function entryPath(versionRoot: string, key: string): string {
  return path.join(versionRoot, key.slice(0, 2), key + ENTRY_SUFFIX);
}

/** Crash-test seam: called after each chunk reaches the temp file (`written === total` before fsync and rename). */
export interface WriteHooks {
  onProgress?: (tempPath: string, written: number, total: number) => void;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** Makes a rename in `dir` survive power loss. Best effort: Windows cannot open a directory for fsync. */
function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // The rename itself is done; durability across power loss is all that is lost.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Writes `bytes` to `finalPath` atomically: temp file in the same directory (rename is only atomic within one
 * filesystem), every byte written, mtime set to `mtimeMs` (the store's recency stamp), fsync, rename, fsync of
 * the directory. On any failure the temp file is removed and the error rethrown; `finalPath` is never partial.
 */
export function writeFileAtomic(finalPath: string, bytes: Uint8Array, mtimeMs?: number, hooks: WriteHooks = {}): void {
  const dir = path.dirname(finalPath);
  fs.mkdirSync(dir, { recursive: true });
  const stem = path.basename(finalPath).replace(/\.[^.]*$/, '');
  const temp = path.join(dir, `.${stem}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = fs.openSync(temp, 'wx');
  let closed = false;
  try {
    let written = 0;
    while (written < bytes.length) {
      // writeSync may write less than asked (signals, some filesystems): loop until every byte is down.
      written += fs.writeSync(fd, bytes, written, Math.min(WRITE_CHUNK, bytes.length - written));
      hooks.onProgress?.(temp, written, bytes.length);
    }
    if (bytes.length === 0) hooks.onProgress?.(temp, 0, 0);
    if (mtimeMs !== undefined) fs.futimesSync(fd, mtimeMs / 1000, mtimeMs / 1000);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    closed = true;
    fs.renameSync(temp, finalPath);
  } catch (err) {
    if (!closed) fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw err;
  }
  fsyncDir(dir);
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) === 'EPERM';
  }
}

/**
 * Whether `name` is a temp file left by a writer that will never rename it: its process is gone, it is our own
 * pid (this process writes synchronously, so none of its writes is in flight while the store opens), or it is old.
 * A live writer's temp file (the CLI and the sidecar share a store) is left alone.
 */
export function isStaleTemp(name: string, mtimeMs: number, now = Date.now()): boolean {
  const match = TEMP_PATTERN.exec(name);
  if (!match) return false;
  const pid = Number(match[2]);
  return pid === process.pid || now - mtimeMs > STALE_TEMP_MS || !pidAlive(pid);
}

export function isTempName(name: string): boolean {
  return TEMP_PATTERN.test(name);
}

/** Removes a file; false if it was already gone (another process got there first). */
export function removeFile(file: string): boolean {
  try {
    fs.unlinkSync(file);
    return true;
  } catch (err) {
    if (errno(err) === 'ENOENT') return false;
    throw err;
  }
}

/** The file's bytes, or null if it does not exist. */
export function readFileOrNull(file: string): Uint8Array | null {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if (errno(err) === 'ENOENT') return null;
    throw err;
  }
}
