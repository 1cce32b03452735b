/**
 * Shared types of the syntax layer: what a segment is, how edits arrive, and the knobs of segmentation.
 *
 * Offsets are JavaScript string indices (UTF-16 code units), the unit VS Code uses for `rangeOffset` and
 * `character` and the unit web-tree-sitter 0.27 reports when it parses a JS string (checked empirically and
 * pinned by test/syntax/parser.test.ts). UTF-8 byte offsets are given alongside for consumers that read the
 * file from disk.
 */

/**
 * What a segment holds:
 * - `imports`: package/import/using/include statements (the imports block);
 * - `declaration`: one or more whole top-level declarations (function, class, type, constant, export list...);
 * - `members`: a piece of a declaration too large for one segment, cut between its members (the first piece
 *   carries the declaration's head, the last one its closing lines);
 * - `lines`: a piece cut between lines (files without a grammar, or a declaration too large even per member);
 * - `code`: top-level statements that declare nothing (scripts, `if __name__ == ...`, syntax errors);
 * - `comment`: a comment block standing alone;
 * - `mixed`: small neighbours of different kinds merged to reach the minimum size.
 */
export type SegmentKind = 'imports' | 'declaration' | 'members' | 'lines' | 'code' | 'comment' | 'mixed';

/** A half-open character range `[start, end)` within a segment's `text` (header included). */
export interface CharRange {
  start: number;
  end: number;
}

export interface Segment {
  /** Repository-relative path with forward slashes. */
  path: string;
  /** Position of the segment in its file's list (0-based). */
  index: number;
  kind: SegmentKind;
  /** Declared names found in the segment, in source order (members are qualified: `Class.member`). */
  names: string[];
  /** Offsets of the body in the file's text, UTF-16 code units, half-open. */
  start: number;
  end: number;
  /** The same range in UTF-8 bytes of the file as stored on disk. */
  startByte: number;
  endByte: number;
  /** Zero-based lines of the body's first and last character (inclusive). */
  startLine: number;
  endLine: number;
  /** The file header given by the model family (e.g. `<|file_sep|>path\n`). */
  header: string;
  /** `header.length`: `text.slice(headerLength)` is the body. */
  headerLength: number;
  /** header + body: what the cache prefills. */
  text: string;
  /** sha256 (hex) of `text`: the cache key. Depends on the path and the body only, not on the position. */
  hash: string;
  /** Token count of `text` by the injected counter. */
  tokens: number;
  /**
   * Character ranges of `text` the eviction step must keep (declaration names, signatures, exported names),
   * sorted and non-overlapping. The header is not listed: the cache keeps it by its own rule.
   */
  protected: CharRange[];
}

/** Counts tokens of a text with the model's tokenizer (injected by the engine; tests use an approximation). */
export type CountTokens = (text: string) => number;

/** Builds the file header for a repository-relative path (model family dependent). */
export type FileHeader = (path: string) => string;

export interface SegmentOptions {
  countTokens: CountTokens;
  fileHeader: FileHeader;
  /** Neighbouring segments smaller than this are merged (header included). Default 128. */
  minSegmentTokens?: number;
  /** No segment is larger than this (header included, by the counter's sum over the pieces). Default 512. */
  maxSegmentTokens?: number;
}

/** The header Qwen2.5-Coder's repository format puts before each file. */
export const qwenFileHeader: FileHeader = (path) => `<|file_sep|>${path}\n`;

export const DEFAULT_MIN_SEGMENT_TOKENS = 128;
export const DEFAULT_MAX_SEGMENT_TOKENS = 512;

/** A position as VS Code gives it: zero-based line, UTF-16 character within the line. */
export interface Position {
  line: number;
  character: number;
}

/** One entry of `TextDocumentChangeEvent.contentChanges`; entries apply in order, each to the previous result. */
export interface ContentChange {
  range: { start: Position; end: Position };
  /** Offset of `range.start` (UTF-16). When absent it is computed from `range`. */
  rangeOffset?: number;
  /** Length of the replaced text (UTF-16). When absent it is computed from `range`. */
  rangeLength?: number;
  text: string;
}

/** The result of updating one file: segments to keep (maybe moved), to prefill, to release. */
export interface SegmentDiff {
  path: string;
  version: number;
  /** New segments matched by hash to a previous one (their cache entries stay valid, even if they moved). */
  kept: Segment[];
  /** New segments with no previous match: new content (or one more copy of an existing one) to prefill. */
  added: Segment[];
  /** Previous segments with no new match: to release (one copy each: identical segments are counted). */
  removed: Segment[];
  /** The complete new list, in file order. */
  segments: Segment[];
}
