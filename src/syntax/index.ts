/** The syntax layer's public surface: scan a workspace, segment files, keep segments current under edits. */
export * from './types';
export { LANGUAGE_IDS, languageForPath, type LanguageId } from './languages';
export {
  initSyntax,
  loadLanguage,
  loadLanguages,
  setGrammarDirectory,
  getGrammarDirectory,
  type SyntaxInitOptions,
} from './parser';
export { segmentText, segmentParsed, type SegmentInput } from './segmenter';
export {
  DocumentStore,
  StaleVersionError,
  UnknownDocumentError,
  diffSegments,
  type DocumentStoreOptions,
  type DocumentSnapshot,
  type ParseStats,
} from './document-store';
export { ContentChangeError } from './text-edit';
export {
  scanWorkspace,
  readIndexable,
  WorkspaceFilter,
  type ScanOptions,
  type ScanResult,
  type ScannedFile,
  type SkippedFile,
} from './scan';
export type { SkipReason, ContentLimits } from './file-filters';
export { isSecretPath } from './secrets';
export { globToRegExp, type ExcludeSetting } from './glob';
