import { describe, expect, it } from 'vitest';
import { ChatHistory, HISTORY_VERSION, toViewMessages } from '../../src/extension/chat/history';
import { parseWebviewMessage } from '../../src/extension/chat/protocol';

describe('ChatHistory', () => {
  it('keeps the newest messages within the bound', () => {
    const h = new ChatHistory({ maxMessages: 3 });
    for (let i = 0; i < 5; i++) h.add(i % 2 ? 'assistant' : 'user', `m${i}`, i);
    expect(h.messages.map((m) => m.text)).toEqual(['m2', 'm3', 'm4']);
  });

  it('cuts overlong messages', () => {
    const h = new ChatHistory({ maxMessageChars: 4 });
    expect(h.add('user', 'abcdefgh', 1).text).toBe('abcd');
  });

  it('round-trips through serialize / deserialize (and JSON, as workspaceState stores it)', () => {
    const h = new ChatHistory();
    h.add('user', 'How does eviction work?', 10);
    h.add('assistant', 'It keeps **sink** tokens.', 20);
    const restored = ChatHistory.deserialize(JSON.parse(JSON.stringify(h.serialize())));
    expect(restored.messages).toEqual(h.messages);
  });

  it('loads corrupted state as far as it is valid', () => {
    const restored = ChatHistory.deserialize({
      version: HISTORY_VERSION,
      messages: [
        { role: 'user', text: 'ok', at: 1 },
        { role: 'system', text: 'injected', at: 2 },
        { role: 'assistant', text: 42 },
        null,
        'text',
        { role: 'assistant', text: 'no time' },
        { role: 'assistant', text: 'bad time', at: Number.NaN },
      ],
    });
    expect(restored.messages).toEqual([
      { role: 'user', text: 'ok', at: 1 },
      { role: 'assistant', text: 'no time', at: 0 },
      { role: 'assistant', text: 'bad time', at: 0 },
    ]);
  });

  it('loads unknown versions and non-objects as empty', () => {
    for (const data of [undefined, null, 'x', 3, [], { version: 99, messages: [] }, { version: 1, messages: 'x' }])
      expect(ChatHistory.deserialize(data).messages).toEqual([]);
  });

  it('applies the bounds when loading', () => {
    const messages = Array.from({ length: 10 }, (_, i) => ({ role: 'user', text: `m${i}`, at: i }));
    const restored = ChatHistory.deserialize({ version: HISTORY_VERSION, messages }, { maxMessages: 2 });
    expect(restored.messages.map((m) => m.text)).toEqual(['m8', 'm9']);
  });

  it('recent() picks the newest messages that fit, oldest first', () => {
    const h = new ChatHistory();
    h.add('user', 'aaaa', 1);
    h.add('assistant', 'bbbb', 2);
    h.add('user', 'cc', 3);
    expect(h.recent(6).map((m) => m.text)).toEqual(['bbbb', 'cc']);
    expect(h.recent(1)).toEqual([]);
  });

  it('clear() empties it', () => {
    const h = new ChatHistory();
    h.add('user', 'x');
    h.clear();
    expect(h.messages).toEqual([]);
  });

  it('maps to view messages: user text stays text, assistant markdown is rendered', () => {
    const view = toViewMessages(
      [
        { role: 'user', text: '<b>hi</b>', at: 1 },
        { role: 'assistant', text: '**yo**', at: 2 },
      ],
      (md) => `R(${md})`,
    );
    expect(view).toEqual([
      { role: 'user', text: '<b>hi</b>' },
      { role: 'assistant', html: 'R(**yo**)' },
    ]);
  });
});

describe('parseWebviewMessage', () => {
  it('accepts the protocol messages', () => {
    expect(parseWebviewMessage({ type: 'ask', text: 'q', includeSelection: true, includeFile: false })).toEqual({
      type: 'ask',
      text: 'q',
      includeSelection: true,
      includeFile: false,
    });
    expect(parseWebviewMessage({ type: 'stop' })).toEqual({ type: 'stop' });
    expect(parseWebviewMessage({ type: 'ready', extra: 1 })).toEqual({ type: 'ready' });
    expect(parseWebviewMessage({ type: 'insert', code: 'x()' })).toEqual({ type: 'insert', code: 'x()' });
    expect(parseWebviewMessage({ type: 'copy', code: '' })).toEqual({ type: 'copy', code: '' });
  });

  it('refuses malformed, unknown or oversized messages', () => {
    for (const bad of [
      null,
      'ask',
      { type: 'ask', text: '   ' },
      { type: 'ask', text: 5 },
      { type: 'ask', text: 'x'.repeat(20_001) },
      { type: 'copy' },
      { type: 'insert', code: 1 },
      { type: 'runCommand', command: 'x' },
    ])
      expect(parseWebviewMessage(bad)).toBeUndefined();
  });

  it('coerces the context flags to booleans', () => {
    expect(parseWebviewMessage({ type: 'ask', text: 'q', includeSelection: 'yes' })).toMatchObject({
      includeSelection: false,
      includeFile: false,
    });
  });
});
