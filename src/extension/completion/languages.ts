/**
 * What the post-processor needs to know about a language, keyed by VS Code language id. Deliberately coarse: the
 * block rules work on text, not on a syntax tree, so a language only has to say how its blocks end (by indentation,
 * by brackets, or by `end`-like keywords that follow indentation in practice) and how its comments and strings look,
 * so that a `}` inside a string or comment is not mistaken for the end of a block.
 */

export type BlockStyle =
  /** Blocks end where the indentation drops (Python, YAML). Brackets still nest expressions. */
  | 'indent'
  /** Blocks end at a closing bracket (C family, JS/TS, Rust, Go, JSON, CSS...). */
  | 'brace'
  /** Blocks end at a keyword such as `end`, which in well-formatted code sits at the block's indentation. */
  | 'keyword'
  /** Prose and unknown languages: no block rule, only the generic clean-ups. */
  | 'none';

export interface LanguageInfo {
  readonly block: BlockStyle;
  /** Line comment starters, longest first. */
  readonly lineComments: readonly string[];
  /** Whether `/* ... *\/` block comments exist. */
  readonly blockComments: boolean;
  /** Quote characters that delimit strings on one line. */
  readonly quotes: readonly string[];
  /** Keywords that continue a block at the opener's own indentation (`else:` after `if ...:`). */
  readonly continuations: readonly string[];
  /** A line ending in `:` opens an indented block (Python), so a body at or left of its indentation is impossible. */
  readonly colonOpensBlock?: boolean;
}

const C_LIKE: LanguageInfo = {
  block: 'brace',
  lineComments: ['//'],
  blockComments: true,
  quotes: ['"', "'", '`'],
  continuations: [],
};

const HASH_COMMENTS: Pick<LanguageInfo, 'lineComments' | 'blockComments' | 'quotes'> = {
  lineComments: ['#'],
  blockComments: false,
  quotes: ['"', "'"],
};

const BY_ID: Record<string, LanguageInfo> = {
  python: {
    block: 'indent',
    ...HASH_COMMENTS,
    continuations: ['elif', 'else', 'except', 'finally', 'case'],
    colonOpensBlock: true,
  },
  yaml: { block: 'indent', ...HASH_COMMENTS, continuations: [] },
  nim: { block: 'indent', ...HASH_COMMENTS, continuations: ['elif', 'else', 'except', 'finally', 'of'] },
  coffeescript: { block: 'indent', ...HASH_COMMENTS, continuations: ['else', 'catch', 'finally', 'when'] },
  gdscript: { block: 'indent', ...HASH_COMMENTS, continuations: ['elif', 'else'], colonOpensBlock: true },
  ruby: { block: 'keyword', ...HASH_COMMENTS, continuations: ['else', 'elsif', 'when', 'rescue', 'ensure'] },
  elixir: { block: 'keyword', ...HASH_COMMENTS, continuations: ['else', 'rescue', 'catch', 'after'] },
  julia: { block: 'keyword', ...HASH_COMMENTS, continuations: ['else', 'elseif', 'catch', 'finally'] },
  shellscript: { block: 'keyword', ...HASH_COMMENTS, continuations: ['else', 'elif'] },
  lua: {
    block: 'keyword',
    lineComments: ['--'],
    blockComments: false,
    quotes: ['"', "'"],
    continuations: ['else', 'elseif'],
  },
  plaintext: { block: 'none', lineComments: [], blockComments: false, quotes: [], continuations: [] },
  markdown: { block: 'none', lineComments: [], blockComments: false, quotes: [], continuations: [] },
};

/** Languages with C-like comments and bracket blocks; anything not listed falls back to this as well. */
const BRACE_IDS = [
  'c',
  'cpp',
  'csharp',
  'java',
  'javascript',
  'javascriptreact',
  'typescript',
  'typescriptreact',
  'go',
  'swift',
  'kotlin',
  'scala',
  'dart',
  'php',
  'css',
  'scss',
  'less',
  'json',
  'jsonc',
  'zig',
  'groovy',
  'objective-c',
];
for (const id of BRACE_IDS) BY_ID[id] = C_LIKE;
// Rust lifetimes (`'a`) would open a never-closed "string" and hide the brackets after them.
BY_ID['rust'] = { ...C_LIKE, quotes: ['"'] };

export function languageInfo(languageId: string): LanguageInfo {
  // Unknown programming languages are far more often brace-like than not; bracket counting is harmless in prose.
  return BY_ID[languageId] ?? C_LIKE;
}
