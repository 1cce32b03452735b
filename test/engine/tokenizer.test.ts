import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/engine/errors';
import { TextTokenizer, type ChatMessage } from '../../src/engine/tokenizer';

const MODEL_DIR = resolve(__dirname, '../../models/tiny-coder');

interface GoldenPrompt {
  name: string;
  text: string;
  ids: number[];
  messages?: ChatMessage[];
}
const golden = JSON.parse(readFileSync(join(MODEL_DIR, 'golden.json'), 'utf8')) as { prompts: GoldenPrompt[] };
const tok = TextTokenizer.fromDir(MODEL_DIR);
const tokenizerJson = JSON.parse(readFileSync(join(MODEL_DIR, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
const tokenizerConfig = JSON.parse(readFileSync(join(MODEL_DIR, 'tokenizer_config.json'), 'utf8')) as Record<
  string,
  unknown
>;

const tempDirs: string[] = [];
function checkpointDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'repokv-tok-'));
  tempDirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function thrown(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError);
    return err as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

// Byte-level BPE must survive all of these: CRLF, tabs, combining marks (NFC), emoji (4-byte, ZWJ sequences,
// flags), CJK, and text that merely resembles special tokens.
const TRICKY = [
  'def f(x):\r\n\treturn x  # tab and CRLF\r\n',
  'const s = "héllo wörld — ünïcödé";',
  'e\u0301 (combining acute)',
  'emoji 😀👩‍💻🇫🇷 and CJK 漢字かなカナ 한국어',
  '<|fim_prefix partial <|fim_pre|> not special',
  '   leading and trailing spaces   ',
  '\n\n\n',
];

describe('TextTokenizer on tiny-coder', () => {
  it('encodes every golden prompt to exactly its ids', () => {
    expect(golden.prompts.length).toBeGreaterThanOrEqual(6);
    for (const prompt of golden.prompts) {
      expect(tok.encode(prompt.text), prompt.name).toEqual(prompt.ids);
    }
  });

  it('renders the chatml prompt from its messages byte for byte', () => {
    const chat = golden.prompts.find((p) => p.name === 'chatml');
    expect(chat?.messages).toBeDefined();
    const text = tok.applyChatTemplate(chat!.messages!, { addGenerationPrompt: true });
    expect(text).toBe(chat!.text);
    expect(tok.encode(text)).toEqual(chat!.ids);
    const noPrompt = tok.applyChatTemplate(chat!.messages!, { addGenerationPrompt: false });
    expect(text.startsWith(noPrompt) && text.endsWith('<|im_start|>assistant\n')).toBe(true);
  });

  it('parses special tokens written in the text as single ids', () => {
    expect(tok.encode('<|fim_prefix|>')).toEqual([4090]);
    expect(tok.encode('a<|file_sep|>b')).toContain(4095);
    expect(tok.encode('<|fim_pre|>')).not.toContain(4090);
    expect(tok.encode('')).toEqual([]);
  });

  it('adds no BOS (add_bos_token is false and there is no bos token)', () => {
    expect(tok.addsBos).toBe(false);
    expect(tok.encode('x')[0]).not.toBe(4087);
  });

  it('decodes golden ids back to their text and round trips tricky strings (to NFC)', () => {
    for (const prompt of golden.prompts) expect(tok.decode(prompt.ids), prompt.name).toBe(prompt.text);
    for (const text of TRICKY) expect(tok.decode(tok.encode(text))).toBe(text.normalize('NFC'));
    expect(tok.decode([])).toBe('');
  });

  it('can skip special tokens when decoding', () => {
    const ids = tok.encode('<|im_start|>user\nhi<|im_end|>');
    expect(tok.decode(ids)).toBe('<|im_start|>user\nhi<|im_end|>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('user\nhi');
  });

  it('exposes vocabulary lookups and special ids', () => {
    expect(tok.vocabSize).toBe(4096);
    expect(tok.tokenId('<|fim_middle|>')).toBe(4091);
    expect(tok.tokenId('<|no_such_token|>')).toBeUndefined();
    expect(tok.tokenText(4095)).toBe('<|file_sep|>');
    expect(tok.tokenText(4096)).toBeUndefined();
    expect(tok.tokenText(-1)).toBeUndefined();
    const id = tok.encode(' return')[0]!;
    expect(tok.tokenId(tok.tokenText(id)!)).toBe(id);
    expect([...tok.specialTokenIds()].sort((a, b) => a - b)).toEqual([
      4087, 4088, 4089, 4090, 4091, 4092, 4093, 4094, 4095,
    ]);
    expect(tok.eosToken).toBe('<|endoftext|>');
  });
});

describe('createStreamDecoder', () => {
  function stream(ids: number[]): { pieces: string[]; text: string } {
    const decoder = tok.createStreamDecoder();
    const pieces = ids.map((id) => decoder.push(id));
    pieces.push(decoder.flush());
    return { pieces, text: pieces.join('') };
  }

  it('emits exactly the full decode, never a U+FFFD, holding back split characters', () => {
    for (const text of [...TRICKY, '😀😀😀 🤖 漢字 ∑∫√ — done']) {
      const ids = tok.encode(text);
      const { pieces, text: streamed } = stream(ids);
      expect(streamed).toBe(tok.decode(ids));
      for (const piece of pieces) expect(piece).not.toContain('\uFFFD');
    }
    // The emoji really are split across tokens here, so the hold-back is exercised.
    const ids = tok.encode('😀');
    expect(ids.length).toBeGreaterThan(1);
    expect(
      stream(ids)
        .pieces.slice(0, -2)
        .every((p) => p === ''),
    ).toBe(true);
  });

  it('streams a long golden prompt identically to one decode', () => {
    const long = golden.prompts.find((p) => p.name === 'long_repo_file')!;
    expect(stream(long.ids).text).toBe(long.text);
  });

  it('skips special tokens when asked and flushes an incomplete character as U+FFFD', () => {
    const decoder = tok.createStreamDecoder({ skipSpecialTokens: true });
    const pieces = tok.encode('<|im_start|>hi 😀<|im_end|>').map((id) => decoder.push(id));
    expect(pieces.join('') + decoder.flush()).toBe('hi 😀');

    const emojiIds = tok.encode('😀');
    const partial = tok.createStreamDecoder();
    expect(partial.push(emojiIds[0]!)).toBe('');
    expect(partial.flush()).toContain('\uFFFD');
    expect(partial.push(tok.encode('x')[0]!)).toBe('x'); // reset after flush
  });
});

describe('BOS handling', () => {
  const withBos = {
    ...tokenizerJson,
    added_tokens: [
      ...(tokenizerJson.added_tokens as object[]),
      { id: 4096, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
  };

  it('prepends BOS when add_bos_token is true and a bos token exists, without doubling it', () => {
    const t = TextTokenizer.fromJSON(withBos, { add_bos_token: true, bos_token: '<s>' });
    expect(t.addsBos).toBe(true);
    expect(t.encode('import os')).toEqual([4096, ...tok.encode('import os')]);
    expect(t.encode('<s>import os')).toEqual([4096, ...tok.encode('import os')]);
    expect(t.encode('')).toEqual([4096]);
    expect(t.specialTokenIds().has(4096)).toBe(true);
    expect(t.vocabSize).toBe(4097);
  });

  it('accepts the {content} object form and adds nothing when the bos token is unknown or disabled', () => {
    expect(TextTokenizer.fromJSON(withBos, { add_bos_token: true, bos_token: { content: '<s>' } }).encode('a')[0]).toBe(
      4096,
    );
    expect(TextTokenizer.fromJSON(withBos, { add_bos_token: true, bos_token: '<bos>' }).addsBos).toBe(false);
    expect(TextTokenizer.fromJSON(withBos, { add_bos_token: false, bos_token: '<s>' }).addsBos).toBe(false);
  });
});

describe('chat templates and errors', () => {
  const json = JSON.stringify(tokenizerJson);
  const messages: ChatMessage[] = [{ role: 'user', content: 'hi' }];

  it('gives a clear error when the checkpoint has no chat template', () => {
    const { chat_template: _unused, ...noTemplate } = tokenizerConfig;
    const dir = checkpointDir({ 'tokenizer.json': json, 'tokenizer_config.json': JSON.stringify(noTemplate) });
    const t = TextTokenizer.fromDir(dir);
    expect(t.encode('import os')).toEqual(tok.encode('import os')); // the tokenizer itself still works
    const err = thrown(() => t.applyChatTemplate(messages, { addGenerationPrompt: true }));
    expect(err.message).toMatch(/no chat template/);
    expect(err.file).toBe(join(dir, 'tokenizer_config.json'));
    expect(err.field).toBe('chat_template');
  });

  it('works without tokenizer_config.json, except for chat', () => {
    const dir = checkpointDir({ 'tokenizer.json': json });
    const t = TextTokenizer.fromDir(dir);
    expect(t.encode('<|fim_prefix|>x')).toEqual(tok.encode('<|fim_prefix|>x'));
    expect(thrown(() => t.applyChatTemplate(messages, { addGenerationPrompt: false })).field).toBe('chat_template');
  });

  it('reads chat_template.jinja and passes bos/eos like transformers', () => {
    const dir = checkpointDir({
      'tokenizer.json': json,
      'tokenizer_config.json': JSON.stringify({ ...tokenizerConfig, chat_template: undefined }),
      'chat_template.jinja': '{{ eos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}',
    });
    expect(TextTokenizer.fromDir(dir).applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(
      '<|endoftext|>[user]hi',
    );
  });

  it('picks the "default" template of the named-list form', () => {
    const t = TextTokenizer.fromJSON(tokenizerJson, {
      eos_token: '<|endoftext|>',
      chat_template: [
        { name: 'tool_use', template: 'tools' },
        { name: 'default', template: '{{ messages[0].content }}{% if add_generation_prompt %}>{% endif %}' },
      ],
    });
    expect(t.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe('hi>');
  });

  it('names the file when a template does not parse', () => {
    const t = TextTokenizer.fromJSON(tokenizerJson, { chat_template: '{% for x in %}' }, '/ckpt');
    const err = thrown(() => t.applyChatTemplate(messages, { addGenerationPrompt: true }));
    expect(err.file).toBe('/ckpt/tokenizer_config.json');
    expect(err.message).toMatch(/chat template/);
  });

  it('throws CheckpointError naming tokenizer.json when it is missing or unparsable', () => {
    const missing = checkpointDir({ 'tokenizer_config.json': '{}' });
    const err = thrown(() => TextTokenizer.fromDir(missing));
    expect(err.file).toBe(join(missing, 'tokenizer.json'));
    expect(err.message).toMatch(/not found/);

    const broken = checkpointDir({ 'tokenizer.json': '{"model": ' });
    expect(thrown(() => TextTokenizer.fromDir(broken)).message).toMatch(/tokenizer\.json.*not valid JSON/);

    const noModel = checkpointDir({ 'tokenizer.json': '{"added_tokens": []}' });
    expect(thrown(() => TextTokenizer.fromDir(noModel)).field).toBe('model');
  });

  it('throws CheckpointError naming tokenizer_config.json when it is unparsable', () => {
    const dir = checkpointDir({ 'tokenizer.json': json, 'tokenizer_config.json': '{oops' });
    expect(thrown(() => TextTokenizer.fromDir(dir)).file).toBe(join(dir, 'tokenizer_config.json'));
  });
});
