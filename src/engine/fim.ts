/**
 * Fill-in-the-middle (FIM) and repository prompt formats, one table row per model family, spelled exactly as the
 * families publish them. A checkpoint's family is recognised from its vocabulary, never from its name, so a
 * fine-tune or a renamed folder still gets the right format.
 *
 * All formats here are PSM (prefix, suffix, middle): the model reads prefix and suffix and writes the middle.
 */
import type { TextTokenizer } from './tokenizer';

export type FimFamily = 'qwen2.5-coder' | 'starcoder2' | 'deepseek-coder' | 'codellama';

/** One row of the table: token spellings as they appear in tokenizer.json. */
export interface FimRow {
  readonly family: FimFamily;
  readonly prefixToken: string;
  readonly suffixToken: string;
  readonly middleToken: string;
  readonly padToken?: string;
  /** Repository-level tokens, for the families trained with them. */
  readonly repoNameToken?: string;
  readonly fileSepToken?: string;
  /**
   * Tokens that end an infill. Besides end-of-text, any sentinel means the model has finished the middle and is
   * starting a new document or file (Qwen2.5-Coder often emits `<|file_sep|>` or `<|fim_pad|>` there).
   */
  readonly stopTokens: readonly string[];
}

/** A table row resolved against one tokenizer: what the engine needs to build prompts and stop decoding. */
export interface FimTemplate extends FimRow {
  /** Ids of the three sentinels in this vocabulary (for callers assembling ids directly). */
  readonly ids: { readonly prefix: number; readonly suffix: number; readonly middle: number };
  /** The row's stop tokens present in this vocabulary, plus the tokenizer's EOS; and their ids, same order. */
  readonly stopTokens: readonly string[];
  readonly stopTokenIds: readonly number[];
}

/**
 * Qwen2.5-Coder comes first: it is the target family, and a vocabulary holding several families' tokens should be
 * read as Qwen. CodeLlama appears twice because its sentinels are spelled `▁<PRE>` (SentencePiece and Hugging
 * Face vocabularies: the `▁` is a space that belongs to the token) or, in some conversions, bare `<PRE>`.
 */
export const FIM_TABLE: readonly FimRow[] = [
  {
    // Qwen2.5-Coder technical report and model card.
    family: 'qwen2.5-coder',
    prefixToken: '<|fim_prefix|>',
    suffixToken: '<|fim_suffix|>',
    middleToken: '<|fim_middle|>',
    padToken: '<|fim_pad|>',
    repoNameToken: '<|repo_name|>',
    fileSepToken: '<|file_sep|>',
    stopTokens: [
      '<|endoftext|>',
      '<|file_sep|>',
      '<|fim_pad|>',
      '<|repo_name|>',
      '<|fim_prefix|>',
      '<|fim_suffix|>',
      '<|fim_middle|>',
      '<|im_start|>',
      '<|im_end|>',
    ],
  },
  {
    // StarCoder2 paper ("StarCoder 2 and The Stack v2"), section on repository context and FIM.
    family: 'starcoder2',
    prefixToken: '<fim_prefix>',
    suffixToken: '<fim_suffix>',
    middleToken: '<fim_middle>',
    padToken: '<fim_pad>',
    repoNameToken: '<repo_name>',
    fileSepToken: '<file_sep>',
    stopTokens: [
      '<|endoftext|>',
      '<file_sep>',
      '<fim_pad>',
      '<repo_name>',
      '<fim_prefix>',
      '<fim_suffix>',
      '<fim_middle>',
    ],
  },
  {
    // DeepSeek-Coder README: full-width bars (U+FF5C) and U+2581 inside the names. No repository tokens.
    // `<|EOT|>` (ASCII bars) is the instruct models' end of turn.
    family: 'deepseek-coder',
    prefixToken: '<｜fim▁begin｜>',
    suffixToken: '<｜fim▁hole｜>',
    middleToken: '<｜fim▁end｜>',
    stopTokens: ['<｜end▁of▁sentence｜>', '<|EOT|>', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>'],
  },
  {
    // Code Llama paper and Meta's reference infilling code; Hugging Face vocabulary spelling.
    family: 'codellama',
    prefixToken: '▁<PRE>',
    suffixToken: '▁<SUF>',
    middleToken: '▁<MID>',
    stopTokens: ['▁<EOT>', '</s>'],
  },
  {
    family: 'codellama',
    prefixToken: '<PRE>',
    suffixToken: '<SUF>',
    middleToken: '<MID>',
    stopTokens: ['<EOT>', '</s>'],
  },
];

function rowTokens(row: FimRow): string[] {
  const tokens = [row.prefixToken, row.suffixToken, row.middleToken];
  if (row.repoNameToken !== undefined) tokens.push(row.repoNameToken);
  if (row.fileSepToken !== undefined) tokens.push(row.fileSepToken);
  return tokens;
}

/**
 * The first table row whose sentinel tokens (and repository tokens, where the row has them) all exist in the
 * tokenizer's vocabulary or added tokens; null when the checkpoint has no known FIM format (then inline
 * completion can only continue the prefix).
 */
export function detectFimTemplate(tok: TextTokenizer): FimTemplate | null {
  for (const row of FIM_TABLE) {
    if (!rowTokens(row).every((token) => tok.tokenId(token) !== undefined)) continue;
    const stopTokens: string[] = [];
    const stopTokenIds: number[] = [];
    const candidates = tok.eosToken === undefined ? row.stopTokens : [...row.stopTokens, tok.eosToken];
    for (const token of candidates) {
      const id = tok.tokenId(token);
      if (id !== undefined && !stopTokenIds.includes(id)) {
        stopTokens.push(token);
        stopTokenIds.push(id);
      }
    }
    const id = (token: string): number => tok.tokenId(token) as number; // checked above
    return {
      ...row,
      ids: { prefix: id(row.prefixToken), suffix: id(row.suffixToken), middle: id(row.middleToken) },
      stopTokens,
      stopTokenIds,
    };
  }
  return null;
}

/**
 * Code Llama's markers carry a space before them: Meta's reference builds
 * `[BOS, ▁<PRE>] + encode(prefix) + [▁<SUF>] + encode_infilling(suffix) + [▁<MID>]`, which reads as text
 * `<PRE> {prefix} <SUF>{suffix} <MID>`. The space after `<PRE>` is SentencePiece's dummy prefix on the prefix
 * text; there is none after `<SUF>` (encode_infilling drops it); the spaces before `<SUF>` and `<MID>` are the `▁`
 * inside those tokens. We write the vocabulary spelling, which the tokenizer matches literally, and add a plain
 * space only where the spelling has no `▁`. (BOS comes from `add_bos_token: true` in Code Llama's config.)
 * Caveat: a Llama tokenizer.json whose normalizer prepends `▁` to every piece between special tokens ("legacy")
 * doubles the space after `<PRE>`; assemble ids from `FimTemplate.ids` if exact parity with Meta's ids matters.
 */
function spaced(token: string): string {
  return token.startsWith('▁') ? token : ` ${token}`;
}

/** The infill prompt in the family's PSM order; the model's answer is the middle, up to a stop token. */
export function formatFim(t: FimTemplate, parts: { prefix: string; suffix: string }): string {
  if (t.family === 'codellama') {
    return `${t.prefixToken} ${parts.prefix}${spaced(t.suffixToken)}${parts.suffix}${spaced(t.middleToken)}`;
  }
  return `${t.prefixToken}${parts.prefix}${t.suffixToken}${parts.suffix}${t.middleToken}`;
}

/**
 * The repository header that opens a repository-level prompt (and forms the attention-sink prefix).
 * Qwen2.5-Coder: `<|repo_name|>name\n`. StarCoder2: `<repo_name>name` with no newline (its paper's format is
 * `<repo_name>reponame<file_sep>filepath0\ncode0...`). DeepSeek-Coder and Code Llama publish no repository-name
 * convention: inventing one would put text the model never saw at the very start, where the attention sink
 * forms; their BOS token (added by `encode`) is the natural sink, so the header is empty.
 */
export function formatRepoHeader(t: FimTemplate, repoName: string): string {
  if (t.repoNameToken === undefined) return '';
  return t.family === 'starcoder2' ? `${t.repoNameToken}${repoName}` : `${t.repoNameToken}${repoName}\n`;
}

/**
 * The header that starts each file (or segment) in a repository-level prompt. Families with a file separator
 * token: `<|file_sep|>path\n` (Qwen2.5-Coder), `<file_sep>path\n` (StarCoder2). The others fall back to a line
 * comment naming the path in the file's own comment syntax, e.g. `// src/a.ts\n` or `# pkg/b.py\n`: DeepSeek-Coder
 * was trained on repository concatenations whose files start with such a path comment (its README example
 * `#utils.py`), and for any code model a comment in the file's language is in-distribution text.
 */
export function formatFileHeader(t: FimTemplate, path: string): string {
  if (t.fileSepToken !== undefined) return `${t.fileSepToken}${path}\n`;
  return `${commentLine(path, path)}\n`;
}

/**
 * The current file as the last file of a repository-level prompt, with the cursor as the hole, in each family's
 * training layout: Qwen2.5-Coder puts the file header before `<|fim_prefix|>`; StarCoder2 puts the path after
 * `<fim_prefix>` (`<file_sep><fim_prefix>path\nPRE<fim_suffix>SUF<fim_middle>`); for comment-header families the
 * path comment is part of the file's text, hence of the prefix.
 */
export function formatFimFile(t: FimTemplate, path: string, parts: { prefix: string; suffix: string }): string {
  if (t.family === 'starcoder2' && t.fileSepToken !== undefined) {
    return `${t.fileSepToken}${formatFim(t, { prefix: `${path}\n${parts.prefix}`, suffix: parts.suffix })}`;
  }
  if (t.fileSepToken !== undefined) return `${formatFileHeader(t, path)}${formatFim(t, parts)}`;
  return formatFim(t, { prefix: `${formatFileHeader(t, path)}${parts.prefix}`, suffix: parts.suffix });
}

/** Line and block comment syntax by file extension; `#` when unknown (DeepSeek-Coder's published example). */
const LINE_COMMENT: Record<string, string> = {};
for (const [marker, exts] of [
  [
    '//',
    'ts tsx mts cts js jsx mjs cjs java kt kts scala go rs c h cc cpp cxx hpp hh cs swift dart php groovy zig v sol proto scss less jsonc',
  ],
  [
    '#',
    'py pyi rb sh bash zsh fish pl pm r yaml yml toml cfg ini conf mk cmake ps1 nim cr ex exs tf dockerfile makefile',
  ],
  ['--', 'sql lua hs elm ada'],
  ['%', 'tex sty erl m'],
  [';', 'lisp el clj cljs scm asm s'],
] as const) {
  for (const ext of exts.split(' ')) LINE_COMMENT[ext] = marker;
}
const BLOCK_COMMENT: Record<string, [string, string]> = {
  html: ['<!--', '-->'],
  htm: ['<!--', '-->'],
  xml: ['<!--', '-->'],
  svg: ['<!--', '-->'],
  vue: ['<!--', '-->'],
  svelte: ['<!--', '-->'],
  md: ['<!--', '-->'],
  css: ['/*', '*/'],
};

/** `text` as a one-line comment in the syntax of `path`'s language. */
export function commentLine(path: string, text: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  const dot = base.lastIndexOf('.');
  const ext = dot >= 0 ? base.slice(dot + 1) : base; // `Makefile`, `Dockerfile` have no extension
  const block = BLOCK_COMMENT[ext];
  if (block) return `${block[0]} ${text} ${block[1]}`;
  return `${LINE_COMMENT[ext] ?? '#'} ${text}`;
}
