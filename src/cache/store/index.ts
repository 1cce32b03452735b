/**
 * The segment store: content-addressed, checksummed, crash-safe persistence of prefilled segments, with a size
 * bound and least-recently-used collection. Keys in segment-key.ts, bytes in entry-format.ts, files and the
 * atomic write protocol in entry-file.ts, the store itself in segment-store.ts.
 */
export {
  CorruptEntryError,
  decodeEntry,
  encodeEntry,
  ENTRY_HEADER_BYTES,
  ENTRY_MAGIC,
  STORE_FORMAT_VERSION,
} from './entry-format';
export { entryPath, versionDir, writeFileAtomic, type WriteHooks } from './entry-file';
export { canonicalJson, isSegmentKey, keyedConfig, segmentKey, type SegmentKeyParts } from './segment-key';
export { SegmentStore, type SegmentStoreOptions, type SegmentStoreStats, type StoreMeta } from './segment-store';
