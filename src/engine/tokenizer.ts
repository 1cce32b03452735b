/**
 * Text <-> token ids for a Hugging Face checkpoint: `tokenizer.json` through `@huggingface/tokenizers` (pure JS,
 * verified id-for-id against the Rust tokenizers on the bundled model), chat templates through `@huggingface/jinja`,
 * and an incremental detokenizer for streaming.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { CheckpointError } from './errors';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface DecodeOptions {
  /** Drop special tokens (`<|endoftext|>`, `<|im_end|>`, ...) from the text. Default false. */
  skipSpecialTokens?: boolean;
}

/** Incremental detokenizer: feed generated ids one by one, get back only the newly completed text. */
export interface StreamDecoder {
  /** Adds one id; returns the text it completes (often '', e.g. for the first half of a split character). */
  push(id: number): string;
  /** Returns whatever is still held back (an incomplete character becomes U+FFFD here) and resets. */
  flush(): string;
}

/** The `tokenizer_config.json` fields we read. Special tokens may be strings or `{content}` objects (older files). */
interface TokenizerConfigFile {
  add_bos_token?: boolean;
  bos_token?: unknown;
  eos_token?: unknown;
  pad_token?: unknown;
  unk_token?: unknown;
  additional_special_tokens?: unknown[];
  clean_up_tokenization_spaces?: boolean;
  chat_template?: string | { name: string; template: string }[];
  [key: string]: unknown;
}

/** Where a tokenizer came from, for error messages. */
interface Sources {
  tokenizerFile: string;
  configFile: string;
  /** A `chat_template.jinja` next to the config: newer transformers versions save the template there. */
  chatTemplateFile?: string;
  chatTemplateText?: string;
}

const REPLACEMENT_CHAR = '\uFFFD';
/**
 * A UTF-8 character is at most 4 bytes and every byte-level token carries at least one, so a character still
 * incomplete after this many more tokens never will be: emit the U+FFFD instead of buffering without bound.
 */
const MAX_HELD_TOKENS = 8;

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? `not found (${what})` : `cannot be read: ${(err as Error).message}`;
    throw new CheckpointError(reason, file);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CheckpointError(`is not valid JSON: ${(err as Error).message}`, file);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class TextTokenizer {
  /** One past the largest id in the vocabulary or the added tokens. */
  readonly vocabSize: number;
  /** Whether `encode` prepends the BOS token (tokenizer_config `add_bos_token: true` and a BOS exists). */
  readonly addsBos: boolean;
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  private readonly tok: Tokenizer;
  private readonly config: TokenizerConfigFile;
  private readonly sources: Sources;
  private readonly bosId: number | undefined;
  private readonly specialIds: Set<number>;
  private readonly cleanUpSpaces: boolean;
  private template: Template | undefined;

  private constructor(tokenizerJson: unknown, config: unknown, sources: Sources) {
    if (!isObject(tokenizerJson)) throw new CheckpointError('must hold a JSON object', sources.tokenizerFile);
    if (!isObject(tokenizerJson.model)) {
      throw new CheckpointError('has no tokenizer model', sources.tokenizerFile, 'model');
    }
    if (!isObject(config)) throw new CheckpointError('must hold a JSON object', sources.configFile);
    this.config = config as TokenizerConfigFile;
    this.sources = sources;
    // The library requires these keys to be present even when null, and iterates `added_tokens`.
    const normalized = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      ...tokenizerJson,
      added_tokens: Array.isArray(tokenizerJson.added_tokens) ? tokenizerJson.added_tokens : [],
    };
    try {
      this.tok = new Tokenizer(normalized, config);
    } catch (err) {
      throw new CheckpointError(`unsupported tokenizer: ${(err as Error).message}`, sources.tokenizerFile);
    }

    let maxId = -1;
    for (const id of this.tok.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;

    this.bosToken = tokenContent(this.config.bos_token);
    this.eosToken = tokenContent(this.config.eos_token);
    this.bosId = this.bosToken === undefined ? undefined : this.tok.token_to_id(this.bosToken);
    this.addsBos = this.config.add_bos_token === true && this.bosId !== undefined;
    // Code must round-trip exactly: the library's default (true) would turn "a ." into "a." on decode. Only an
    // explicit `true` in the config turns it on (transformers has moved its own default to false as well).
    this.cleanUpSpaces = this.config.clean_up_tokenization_spaces === true;

    this.specialIds = new Set<number>();
    for (const [id, added] of this.tok.get_added_tokens_decoder()) if (added.special) this.specialIds.add(id);
    const named = [this.config.bos_token, this.config.eos_token, this.config.pad_token, this.config.unk_token];
    for (const value of [...named, ...(this.config.additional_special_tokens ?? [])]) {
      const content = tokenContent(value);
      const id = content === undefined ? undefined : this.tok.token_to_id(content);
      if (id !== undefined) this.specialIds.add(id);
    }
  }

  /** Loads `tokenizer.json` (required) and `tokenizer_config.json` (optional) from a checkpoint directory. */
  static fromDir(dir: string): TextTokenizer {
    const tokenizerFile = join(dir, 'tokenizer.json');
    const configFile = join(dir, 'tokenizer_config.json');
    const tokenizerJson = readJson(tokenizerFile, 'a Hugging Face checkpoint needs tokenizer.json');
    // Optional file: absent means defaults (no BOS, no chat template); present but broken is an error.
    const config = existsSync(configFile) ? readJson(configFile, 'tokenizer_config.json') : {};
    const sources: Sources = { tokenizerFile, configFile };
    const jinjaFile = join(dir, 'chat_template.jinja');
    try {
      sources.chatTemplateText = readFileSync(jinjaFile, 'utf8');
      sources.chatTemplateFile = jinjaFile;
    } catch {
      // No separate template file: the config's `chat_template` (if any) is used.
    }
    return new TextTokenizer(tokenizerJson, config, sources);
  }

  /** Builds a tokenizer from already parsed objects (tests, synthetic vocabularies). */
  static fromJSON(tokenizerJson: unknown, config: unknown = {}, label = '<in-memory>'): TextTokenizer {
    return new TextTokenizer(tokenizerJson, config, {
      tokenizerFile: `${label}/tokenizer.json`,
      configFile: `${label}/tokenizer_config.json`,
    });
  }

  /**
   * Text to ids. Special tokens written in the text (`<|fim_prefix|>`) become their single ids. The
   * tokenizer.json post-processor is not applied: BOS is governed only by `add_bos_token`, so that a prompt's
   * ids never silently change with post-processor templates, and it is not doubled when the text (e.g. a
   * rendered chat template) already starts with it. No EOS is ever appended: a prompt ending in EOS would end
   * generation before it starts.
   */
  encode(text: string): number[] {
    const ids = text.length === 0 ? [] : this.tok.encode(text, { add_special_tokens: false }).ids;
    if (this.addsBos && this.bosId !== undefined && ids[0] !== this.bosId) ids.unshift(this.bosId);
    return ids;
  }

  /** Ids to text. Ids outside the vocabulary are skipped, as the Rust tokenizers do. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const known = ids.filter((id) => this.tok.id_to_token(id) !== undefined);
    if (known.length === 0) return ''; // the library throws on an empty list
    return this.tok.decode(known, {
      skip_special_tokens: opts.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.cleanUpSpaces,
    });
  }

  /** The id of a vocabulary entry or added token, spelled as in tokenizer.json (e.g. `<|fim_prefix|>`). */
  tokenId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** The raw vocabulary spelling of an id (byte-level form, e.g. `Ġreturn`); use `decode([id])` for text. */
  tokenText(id: number): string | undefined {
    if (!Number.isInteger(id) || id < 0) return undefined;
    return this.tok.id_to_token(id);
  }

  /** Ids of special tokens: added tokens marked special plus bos/eos/pad/unk and additional_special_tokens. */
  specialTokenIds(): Set<number> {
    return new Set(this.specialIds);
  }

  /**
   * Renders a conversation with the checkpoint's chat template, as transformers' `apply_chat_template`
   * (tokenize=False) does: the special tokens are passed as template variables.
   */
  applyChatTemplate(messages: readonly ChatMessage[], opts: { addGenerationPrompt: boolean }): string {
    const template = this.chatTemplate();
    const vars: Record<string, unknown> = {
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: opts.addGenerationPrompt,
    };
    for (const name of ['bos_token', 'eos_token', 'pad_token', 'unk_token'] as const) {
      const content = tokenContent(this.config[name]);
      if (content !== undefined) vars[name] = content;
    }
    const extra = (this.config.additional_special_tokens ?? []).map(tokenContent).filter((t) => t !== undefined);
    vars.additional_special_tokens = extra;
    try {
      return template.render(vars);
    } catch (err) {
      throw new CheckpointError(
        `chat template failed to render: ${(err as Error).message}`,
        this.templateFile(),
        'chat_template',
      );
    }
  }

  /**
   * Streaming detokenizer. Decoding tokens one at a time is wrong twice over: byte-level BPE splits multibyte
   * characters across tokens (each half decodes to U+FFFD), and SentencePiece-style decoders treat the first
   * token of a decode call differently (leading-space stripping). So each step decodes a short window that starts
   * at an already emitted boundary and emits only the growth of that window's text, and only once it does not
   * end in U+FFFD (an incomplete character).
   */
  createStreamDecoder(opts: DecodeOptions = {}): StreamDecoder {
    let window: number[] = []; // ids from the last emitted boundary on
    let readOffset = 0; // window[0..readOffset) has been emitted
    const reset = (): void => {
      window = [];
      readOffset = 0;
    };
    return {
      push: (id: number): string => {
        window.push(id);
        const before = this.decode(window.slice(0, readOffset), opts);
        const after = this.decode(window, opts);
        const held = window.length - readOffset;
        if (after.length <= before.length) return '';
        if (after.endsWith(REPLACEMENT_CHAR) && held < MAX_HELD_TOKENS) return '';
        // Keep the tokens just emitted as context for the next window, forget everything before them.
        window = window.slice(readOffset);
        readOffset = window.length;
        return after.slice(before.length);
      },
      flush: (): string => {
        const rest = this.decode(window, opts).slice(this.decode(window.slice(0, readOffset), opts).length);
        reset();
        return rest;
      },
    };
  }

  private templateFile(): string {
    return this.sources.chatTemplateFile ?? this.sources.configFile;
  }

  private chatTemplate(): Template {
    if (this.template) return this.template;
    const source = this.chatTemplateSource();
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new CheckpointError(
        `chat template does not parse: ${(err as Error).message}`,
        this.templateFile(),
        'chat_template',
      );
    }
    return this.template;
  }

  private chatTemplateSource(): string {
    // A separate chat_template.jinja takes precedence, as in transformers.
    if (this.sources.chatTemplateText !== undefined) return this.sources.chatTemplateText;
    const value = this.config.chat_template;
    if (typeof value === 'string' && value.length > 0) return value;
    if (Array.isArray(value)) {
      // The multi-template form `[{name, template}]`: transformers uses "default" when no name is asked for.
      const found = value.find((entry) => isObject(entry) && entry.name === 'default');
      if (found && typeof found.template === 'string') return found.template;
      const names = value.map((entry) => (isObject(entry) ? String(entry.name) : '?')).join(', ');
      throw new CheckpointError(
        `has chat templates (${names}) but none named "default"`,
        this.sources.configFile,
        'chat_template',
      );
    }
    throw new CheckpointError(
      'has no chat template, so this checkpoint cannot be used for chat (a base model? use its instruct variant)',
      this.sources.configFile,
      'chat_template',
    );
  }
}
