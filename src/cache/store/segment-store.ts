/**
 * The persistent, content-addressed store of prefilled segments (DESIGN section 3, "Persistence"). Storage only:
 * it knows keys, bytes and recency, never why a segment is cached or how it was compressed (STYLE: the store apart
 * from the policies).
 *
 * Files are the truth. The in-memory recency list is rebuilt from file mtimes at open (and by `rescan`), every
 * lookup goes to the file system, so entries written or removed by another process sharing the directory (the CLI
 * and the sidecar) are seen as they are; the list only decides what to collect first. A hit bumps the file's mtime
 * so that recency survives a restart.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CachedSegment } from '../segment-kv';
import { CorruptEntryError, decodeEntry, encodeEntry, STORE_FORMAT_VERSION } from './entry-format';
import {
  ENTRY_SUFFIX,
  entryPath,
  isStaleTemp,
  isTempName,
  readFileOrNull,
  removeFile,
  versionDir,
  writeFileAtomic,
  type WriteHooks,
} from './entry-file';
import { isSegmentKey } from './segment-key';

export interface SegmentStoreOptions {
  /** Bound on the total size of the entry files; least recently used entries are removed past it. */
  maxBytes: number;
  /** Crash-test seam: observes every write (see WriteHooks); production callers leave it unset. */
  writeHooks?: WriteHooks;
}

export interface SegmentStoreStats {
  entries: number;
  bytes: number;
  hits: number;
  /** Lookups that returned null, corrupt entries included. */
  misses: number;
  /** Entries found corrupt (and deleted) by `get`. */
  corrupt: number;
}

export interface StoreMeta {
  formatVersion: number;
  /** ISO time the version folder was created. */
  created: string;
}

const META_FILE = 'meta.json';
const SHARD_PATTERN = /^[0-9a-f]{2}$/;
const VERSION_PATTERN = /^v\d+$/;

function checkKey(key: string): void {
  if (!isSegmentKey(key)) throw new TypeError(`not a segment key: ${JSON.stringify(key)}`);
}

/** Stat that tolerates the file vanishing between readdir and stat (another process collected it). */
function statOrNull(file: string): fs.Stats | null {
  try {
    return fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export class SegmentStore {
  /** The folder of the current format version: `<dir>/v<STORE_FORMAT_VERSION>`. */
  readonly root: string;
  readonly maxBytes: number;
  private readonly writeHooks: WriteHooks;
  private metaRecord!: StoreMeta;
  /** key → file bytes, least recently used first (a Map iterates in insertion order; a use re-inserts). */
  private readonly recency = new Map<string, number>();
  private totalBytes = 0;
  private hits = 0;
  private misses = 0;
  private corrupt = 0;
  /** Last recency stamp given out (ms): strictly increasing, so two uses within one ms still order. */
  private lastStamp = 0;

  constructor(
    readonly dir: string,
    opts: SegmentStoreOptions,
  ) {
    if (!(opts.maxBytes > 0)) throw new RangeError(`maxBytes must be positive, got ${opts.maxBytes}`);
    this.maxBytes = opts.maxBytes;
    this.writeHooks = opts.writeHooks ?? {};
    this.root = versionDir(dir, STORE_FORMAT_VERSION);
    this.ensureMeta();
    this.rescan();
  }

  get meta(): StoreMeta {
    return { ...this.metaRecord };
  }

  /** The stored segment, or null if absent or corrupt (a corrupt file is deleted: it is recomputed, never trusted). */
  get(key: string): CachedSegment | null {
    checkKey(key);
    const file = entryPath(this.root, key);
    const bytes = readFileOrNull(file);
    if (bytes === null) {
      this.forget(key);
      this.misses++;
      return null;
    }
    let kv: CachedSegment;
    try {
      kv = decodeEntry(bytes);
    } catch (err) {
      if (!(err instanceof CorruptEntryError)) throw err;
      removeFile(file);
      this.forget(key);
      this.corrupt++;
      this.misses++;
      return null;
    }
    this.hits++;
    this.use(key, bytes.length);
    try {
      const stamp = this.stamp() / 1000;
      fs.utimesSync(file, stamp, stamp);
    } catch {
      // Collected by another process since the read: the returned copy is still whole, recency just not saved.
    }
    this.collect();
    return kv;
  }

  /**
   * Stores (or replaces) a segment atomically. An entry larger than the whole bound is not written: it would
   * evict everything else and then itself. Throws if `kv` breaks a SegmentKv invariant or the write fails.
   */
  put(key: string, kv: CachedSegment): void {
    checkKey(key);
    const bytes = encodeEntry(kv);
    if (bytes.length > this.maxBytes) return;
    writeFileAtomic(entryPath(this.root, key), bytes, this.stamp(), this.writeHooks);
    this.use(key, bytes.length);
    this.collect();
  }

  /** Whether an entry file exists: cheap, no checksum (a corrupt entry is still `true` until `get` meets it). */
  has(key: string): boolean {
    checkKey(key);
    const present = fs.existsSync(entryPath(this.root, key));
    if (!present) this.forget(key);
    return present;
  }

  /** Removes an entry; false if there was none. */
  delete(key: string): boolean {
    checkKey(key);
    const removed = removeFile(entryPath(this.root, key));
    this.forget(key);
    return removed;
  }

  /** Entries and bytes as this process last saw the files; lookup counters since open. */
  stats(): SegmentStoreStats {
    return {
      entries: this.recency.size,
      bytes: this.totalBytes,
      hits: this.hits,
      misses: this.misses,
      corrupt: this.corrupt,
    };
  }

  /** Removes every entry of the current format version (lookup counters are kept: they describe this session). */
  clear(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
    this.recency.clear();
    this.totalBytes = 0;
    this.ensureMeta();
  }

  /** Deletes the folders of other format versions, which this store never reads; returns their names. */
  removeOtherVersions(): string[] {
    const current = path.basename(this.root);
    const removed: string[] = [];
    for (const entry of fs.readdirSync(this.dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || !VERSION_PATTERN.test(entry.name) || entry.name === current) continue;
      fs.rmSync(path.join(this.dir, entry.name), { recursive: true, force: true });
      removed.push(entry.name);
    }
    return removed;
  }

  /**
   * Rebuilds the recency list from the files (order: mtime), removes stale temp files of crashed writers, and
   * collects down to the bound. Runs at open; call it again to pick up what other processes did meanwhile.
   */
  rescan(): void {
    const found: { key: string; bytes: number; mtimeMs: number }[] = [];
    const now = Date.now();
    const sweepTemp = (dir: string, name: string): void => {
      const st = statOrNull(path.join(dir, name));
      if (st && isStaleTemp(name, st.mtimeMs, now)) removeFile(path.join(dir, name));
    };
    for (const entry of fs.readdirSync(this.root, { withFileTypes: true })) {
      if (entry.isFile() && isTempName(entry.name)) sweepTemp(this.root, entry.name);
      if (!entry.isDirectory() || !SHARD_PATTERN.test(entry.name)) continue;
      const shard = path.join(this.root, entry.name);
      for (const name of fs.readdirSync(shard)) {
        if (isTempName(name)) {
          sweepTemp(shard, name);
          continue;
        }
        const key = name.slice(0, -ENTRY_SUFFIX.length);
        // Anything else in a shard (a stray file, a key filed under the wrong prefix) is not ours to count or delete.
        if (!name.endsWith(ENTRY_SUFFIX) || !isSegmentKey(key) || !key.startsWith(entry.name)) continue;
        const st = statOrNull(path.join(shard, name));
        if (st?.isFile()) found.push({ key, bytes: st.size, mtimeMs: st.mtimeMs });
      }
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.key < b.key ? -1 : 1));
    this.recency.clear();
    this.totalBytes = 0;
    for (const f of found) {
      this.recency.set(f.key, f.bytes);
      this.totalBytes += f.bytes;
      this.lastStamp = Math.max(this.lastStamp, f.mtimeMs);
    }
    this.collect();
  }

  private stamp(): number {
    this.lastStamp = Math.max(Date.now(), this.lastStamp + 1);
    return this.lastStamp;
  }

  /** Marks `key` (of `bytes` bytes) as the most recently used entry. */
  private use(key: string, bytes: number): void {
    this.forget(key);
    this.recency.set(key, bytes);
    this.totalBytes += bytes;
  }

  private forget(key: string): void {
    const bytes = this.recency.get(key);
    if (bytes === undefined) return;
    this.recency.delete(key);
    this.totalBytes -= bytes;
  }

  /** Removes least recently used entries until the total fits the bound. */
  private collect(): void {
    for (const [key, bytes] of this.recency) {
      if (this.totalBytes <= this.maxBytes) return;
      removeFile(entryPath(this.root, key));
      this.recency.delete(key);
      this.totalBytes -= bytes;
    }
  }

  /** Reads meta.json, (re)writing it when missing or unreadable: it describes the folder, nothing depends on it. */
  private ensureMeta(): void {
    fs.mkdirSync(this.root, { recursive: true });
    const file = path.join(this.root, META_FILE);
    try {
      const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<StoreMeta>;
      if (parsed.formatVersion === STORE_FORMAT_VERSION && typeof parsed.created === 'string') {
        this.metaRecord = { formatVersion: parsed.formatVersion, created: parsed.created };
        return;
      }
    } catch {
      // Missing or not JSON: rewritten below.
    }
    this.metaRecord = { formatVersion: STORE_FORMAT_VERSION, created: new Date().toISOString() };
    writeFileAtomic(file, Buffer.from(JSON.stringify(this.metaRecord, null, 2) + '\n'));
  }
}
