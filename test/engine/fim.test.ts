import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  commentLine,
  detectFimTemplate,
  formatFileHeader,
  formatFim,
  formatFimFile,
  formatRepoHeader,
  type FimFamily,
  type FimTemplate,
} from '../../src/engine/fim';
import { TextTokenizer } from '../../src/engine/tokenizer';

const MODEL_DIR = resolve(__dirname, '../../models/tiny-coder');
const golden = JSON.parse(readFileSync(join(MODEL_DIR, 'golden.json'), 'utf8')) as {
  prompts: { name: string; text: string; ids: number[] }[];
};
const tiny = TextTokenizer.fromDir(MODEL_DIR);

/** GPT-2's byte-to-unicode table: printable bytes stand for themselves, the rest are shifted above 255. */
function byteSymbols(): string[] {
  const symbols: string[] = [];
  let shifted = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    symbols.push(String.fromCodePoint(printable ? b : shifted++));
  }
  return symbols;
}

/**
 * The smallest tokenizer.json the library accepts: the constructor insists on the keys `model`, `normalizer`,
 * `pre_tokenizer`, `post_processor` and `decoder` (null is fine), iterates `added_tokens`, and a BPE model needs
 * `vocab` and `merges`. One token per byte (no merges) plus the family's added tokens, so any text encodes and the
 * sentinels come out as single ids.
 */
function syntheticTokenizer(specials: string[], config: Record<string, unknown> = {}): TextTokenizer {
  const vocab: Record<string, number> = {};
  byteSymbols().forEach((symbol, id) => (vocab[symbol] = id));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  return TextTokenizer.fromJSON(
    {
      version: '1.0',
      added_tokens: specials.map((content, i) => ({
        id: 256 + i,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: null,
      decoder: byteLevel,
      model: { type: 'BPE', vocab, merges: [], unk_token: null, byte_fallback: false, ignore_merges: false },
    },
    config,
  );
}

const QWEN = [
  '<|endoftext|>',
  '<|fim_prefix|>',
  '<|fim_middle|>',
  '<|fim_suffix|>',
  '<|fim_pad|>',
  '<|repo_name|>',
  '<|file_sep|>',
];
const STARCODER2 = [
  '<|endoftext|>',
  '<fim_prefix>',
  '<fim_middle>',
  '<fim_suffix>',
  '<fim_pad>',
  '<repo_name>',
  '<file_sep>',
  '<gh_stars>',
];
const DEEPSEEK = [
  '<｜begin▁of▁sentence｜>',
  '<｜end▁of▁sentence｜>',
  '<｜fim▁hole｜>',
  '<｜fim▁begin｜>',
  '<｜fim▁end｜>',
  '<|EOT|>',
];
const CODELLAMA = ['<unk>', '<s>', '</s>', '▁<PRE>', '▁<MID>', '▁<SUF>', '▁<EOT>'];

function detect(tok: TextTokenizer, family: FimFamily): FimTemplate {
  const t = detectFimTemplate(tok);
  expect(t?.family).toBe(family);
  return t!;
}

const parts = { prefix: 'def f(x):\n    return ', suffix: '\n\nprint(f(1))\n' };

describe('FIM detection and formatting on tiny-coder', () => {
  const t = detect(tiny, 'qwen2.5-coder');

  it('resolves Qwen2.5-Coder ids and stop tokens from the vocabulary', () => {
    expect(t.ids).toEqual({ prefix: 4090, suffix: 4092, middle: 4091 });
    expect(t.stopTokenIds).toContain(4087); // <|endoftext|>
    expect(t.stopTokenIds).toContain(4095); // <|file_sep|>
    expect(t.stopTokenIds).toContain(4093); // <|fim_pad|>
    expect(t.stopTokens.map((s) => tiny.tokenId(s))).toEqual(t.stopTokenIds);
    expect(new Set(t.stopTokenIds).size).toBe(t.stopTokenIds.length);
  });

  it('rebuilds the golden FIM prompt exactly', () => {
    const fim = golden.prompts.find((p) => p.name === 'fim_python')!;
    const [, rest] = fim.text.split('<|fim_prefix|>');
    const [prefix, rest2] = rest!.split('<|fim_suffix|>');
    const [suffix] = rest2!.split('<|fim_middle|>');
    const text = formatFim(t, { prefix: prefix!, suffix: suffix! });
    expect(text).toBe(fim.text);
    expect(tiny.encode(text)).toEqual(fim.ids);
  });

  it('writes repository and file headers as the golden repository prompt does', () => {
    const repo = golden.prompts.find((p) => p.name === 'repo_cross_file')!;
    expect(formatRepoHeader(t, 'acme/shop')).toBe('<|repo_name|>acme/shop\n');
    expect(formatFileHeader(t, 'src/pricing.ts')).toBe('<|file_sep|>src/pricing.ts\n');
    expect(repo.text.startsWith(formatRepoHeader(t, 'acme/shop') + formatFileHeader(t, 'src/pricing.ts'))).toBe(true);
    expect(formatFimFile(t, 'a.py', parts)).toBe(
      `<|file_sep|>a.py\n<|fim_prefix|>${parts.prefix}<|fim_suffix|>${parts.suffix}<|fim_middle|>`,
    );
  });
});

describe('FIM detection on synthetic vocabularies', () => {
  it('Qwen2.5-Coder', () => {
    const tok = syntheticTokenizer(QWEN);
    const t = detect(tok, 'qwen2.5-coder');
    const text = formatFim(t, parts);
    expect(text).toBe(`<|fim_prefix|>${parts.prefix}<|fim_suffix|>${parts.suffix}<|fim_middle|>`);
    const ids = tok.encode(text);
    expect(ids[0]).toBe(t.ids.prefix);
    expect(ids[ids.length - 1]).toBe(t.ids.middle);
    expect(ids.filter((id) => id >= 256)).toEqual([t.ids.prefix, t.ids.suffix, t.ids.middle]);
    expect(tok.decode(ids)).toBe(text);
  });

  it('StarCoder2, with its repository layout', () => {
    const tok = syntheticTokenizer(STARCODER2, { eos_token: '<|endoftext|>' });
    const t = detect(tok, 'starcoder2');
    expect(formatFim(t, parts)).toBe(`<fim_prefix>${parts.prefix}<fim_suffix>${parts.suffix}<fim_middle>`);
    expect(formatRepoHeader(t, 'org/proj')).toBe('<repo_name>org/proj');
    expect(formatFileHeader(t, 'src/a.py')).toBe('<file_sep>src/a.py\n');
    expect(formatFimFile(t, 'src/a.py', parts)).toBe(
      `<file_sep><fim_prefix>src/a.py\n${parts.prefix}<fim_suffix>${parts.suffix}<fim_middle>`,
    );
    expect(t.stopTokens).toEqual([
      '<|endoftext|>',
      '<file_sep>',
      '<fim_pad>',
      '<repo_name>',
      '<fim_prefix>',
      '<fim_suffix>',
      '<fim_middle>',
    ]);
    const ids = tok.encode(formatRepoHeader(t, 'o/p') + formatFileHeader(t, 'x.py'));
    expect(ids[0]).toBe(tok.tokenId('<repo_name>'));
    expect(ids).toContain(tok.tokenId('<file_sep>'));
  });

  it('DeepSeek-Coder (full-width bars), with comment-style file headers', () => {
    const tok = syntheticTokenizer(DEEPSEEK, {
      add_bos_token: true,
      bos_token: '<｜begin▁of▁sentence｜>',
      eos_token: '<｜end▁of▁sentence｜>',
    });
    const t = detect(tok, 'deepseek-coder');
    const text = formatFim(t, parts);
    expect(text).toBe(`<｜fim▁begin｜>${parts.prefix}<｜fim▁hole｜>${parts.suffix}<｜fim▁end｜>`);
    const ids = tok.encode(text);
    expect(ids.slice(0, 2)).toEqual([tok.tokenId('<｜begin▁of▁sentence｜>'), t.ids.prefix]);
    expect(ids[ids.length - 1]).toBe(t.ids.middle);
    expect(t.repoNameToken).toBeUndefined();
    expect(formatRepoHeader(t, 'org/proj')).toBe('');
    expect(formatFileHeader(t, 'utils.py')).toBe('# utils.py\n');
    expect(formatFileHeader(t, 'src/app.ts')).toBe('// src/app.ts\n');
    expect(formatFimFile(t, 'm.py', parts)).toBe(
      `<｜fim▁begin｜># m.py\n${parts.prefix}<｜fim▁hole｜>${parts.suffix}<｜fim▁end｜>`,
    );
    expect(t.stopTokens).toEqual([
      '<｜end▁of▁sentence｜>',
      '<|EOT|>',
      '<｜fim▁begin｜>',
      '<｜fim▁hole｜>',
      '<｜fim▁end｜>',
    ]);
  });

  it('does not mistake ASCII bars for DeepSeek tokens', () => {
    expect(detectFimTemplate(syntheticTokenizer(['<|fim▁begin|>', '<|fim▁hole|>', '<|fim▁end|>']))).toBeNull();
  });

  it('Code Llama, "▁"-spelled vocabulary: <PRE> {prefix} <SUF>{suffix} <MID>', () => {
    const tok = syntheticTokenizer(CODELLAMA, { add_bos_token: true, bos_token: '<s>', eos_token: '</s>' });
    const t = detect(tok, 'codellama');
    const text = formatFim(t, { prefix: 'def f(', suffix: '):' });
    // The spaces before <SUF> and <MID> are the ▁ inside those tokens; the one after <PRE> is SentencePiece's
    // dummy prefix on the prefix text; none follows <SUF>.
    expect(text).toBe('▁<PRE> def f(▁<SUF>):▁<MID>');
    const ids = tok.encode(text);
    expect(ids.slice(0, 2)).toEqual([tok.tokenId('<s>'), t.ids.prefix]);
    expect(ids.filter((id) => id >= 256 + 3)).toEqual([t.ids.prefix, t.ids.suffix, t.ids.middle]);
    expect(t.stopTokens).toEqual(['▁<EOT>', '</s>']);
    expect(formatFileHeader(t, 'lib/x.rs')).toBe('// lib/x.rs\n');
  });

  it('Code Llama, bare-spelled vocabulary gets literal spaces', () => {
    const tok = syntheticTokenizer(['<s>', '</s>', '<PRE>', '<SUF>', '<MID>', '<EOT>']);
    const t = detect(tok, 'codellama');
    expect(formatFim(t, { prefix: 'def f(', suffix: '):' })).toBe('<PRE> def f( <SUF>): <MID>');
    expect(t.stopTokens).toEqual(['<EOT>', '</s>']);
  });

  it('prefers Qwen2.5-Coder when a vocabulary holds several families', () => {
    expect(detectFimTemplate(syntheticTokenizer([...STARCODER2, ...QWEN.slice(1)]))?.family).toBe('qwen2.5-coder');
  });

  it('requires every token of a row, repository tokens included', () => {
    expect(detectFimTemplate(syntheticTokenizer(['<|endoftext|>']))).toBeNull();
    expect(detectFimTemplate(syntheticTokenizer(['<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>']))).toBeNull();
    // StarCoder 1 has the FIM tokens but `<reponame>`/`<filename>`: not StarCoder2's repository format.
    expect(
      detectFimTemplate(syntheticTokenizer(['<fim_prefix>', '<fim_middle>', '<fim_suffix>', '<reponame>'])),
    ).toBeNull();
  });
});

describe('commentLine', () => {
  it('uses the file language comment syntax', () => {
    expect(commentLine('a/b.py', 'x')).toBe('# x');
    expect(commentLine('a/b.go', 'x')).toBe('// x');
    expect(commentLine('q.sql', 'x')).toBe('-- x');
    expect(commentLine('index.html', 'x')).toBe('<!-- x -->');
    expect(commentLine('s.css', 'x')).toBe('/* x */');
    expect(commentLine('Makefile', 'x')).toBe('# x');
    expect(commentLine('NOTES', 'x')).toBe('# x');
  });
});
