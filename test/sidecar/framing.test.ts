import { describe, expect, it } from 'vitest';
import { FrameGuard, checkMessage, type InvalidInput } from '../../src/sidecar/framing';
import { KeyedQueue } from '../../src/sidecar/keyed-queue';
import { InvalidParamsError, parseParams } from '../../src/sidecar/validate';

const frame = (message: unknown): string => {
  const body = typeof message === 'string' ? message : JSON.stringify(message);
  return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
};
const request = (id: number) => ({ jsonrpc: '2.0', id, method: 'stats', params: {} });

/** Writes `chunks` into a guard; the frames it passed on and the problems it reported. */
function run(chunks: (string | Buffer)[]): { out: string; problems: InvalidInput[] } {
  const problems: InvalidInput[] = [];
  const guard = new FrameGuard((p) => problems.push(p));
  const out: Buffer[] = [];
  guard.on('data', (b: Buffer) => out.push(b));
  for (const c of chunks) guard.write(c);
  return { out: Buffer.concat(out).toString('utf8'), problems };
}

describe('FrameGuard', () => {
  it('passes well-formed frames through unchanged, however they are chunked (even mid-character)', () => {
    const input =
      frame(request(1)) + frame({ jsonrpc: '2.0', method: 'log', params: { message: 'héllo ✓' } }) + frame(request(2));
    const bytes = Buffer.from(input);
    for (const size of [1, 3, 7, bytes.length]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      expect(run(chunks)).toEqual({ out: input, problems: [] });
    }
  });

  it('drops garbage up to the next header, reporting one parse error per bad run', () => {
    const { out, problems } = run(['garbage', ' more garbage', ` and more\r\n\r\n${frame(request(1))}`]);
    expect(out).toBe(frame(request(1)));
    expect(problems).toEqual([
      { code: -32700, message: 'Parse error: dropped bytes that are not a JSON-RPC frame', id: null },
    ]);
  });

  it('drops stray line breaks between frames silently', () => {
    expect(run([`${frame(request(1))}\r\n\n${frame(request(2))}`]).problems).toEqual([]);
  });

  it('answers a bad body with the id when it has one, and resynchronises after a lying Content-Length', () => {
    const notJsonRpc = frame({ jsonrpc: '1.0', id: 7, method: 'stats' });
    const { out, problems } = run([notJsonRpc, 'Content-Length: 500\r\n\r\n{"jsonrpc"', frame(request(3))]);
    expect(out).toBe(frame(request(3)));
    expect(problems.map((p) => [p.code, p.id])).toEqual([
      [-32600, 7],
      [-32700, null],
    ]);
  });

  it('refuses headers without a usable Content-Length', () => {
    const { out, problems } = run(['Content-Length: ten\r\n\r\n', 'Content-Type: x\r\n\r\n', frame(request(4))]);
    expect(out).toBe(frame(request(4)));
    expect(problems).toHaveLength(1);
  });
});

describe('checkMessage', () => {
  it('accepts requests, notifications and responses; refuses the rest with the right code', () => {
    expect(checkMessage(JSON.stringify(request(1)))).toBeUndefined();
    expect(checkMessage('{"jsonrpc":"2.0","method":"x"}')).toBeUndefined();
    expect(checkMessage('{"jsonrpc":"2.0","id":1,"result":null}')).toBeUndefined();
    expect(checkMessage('{"jsonrpc":"2.0","id":{},"method":"x"}')?.code).toBe(-32600);
    expect(checkMessage('{"jsonrpc":"2.0","method":"x","params":3}')?.message).toContain('"params" must be');
    expect(checkMessage('{"jsonrpc":"2.0","id":1}')?.id).toBe(1);
    expect(checkMessage('nope')?.code).toBe(-32700);
  });
});

describe('parseParams', () => {
  const complete = { path: 'a.ts', text: '', version: 1, line: 0, character: 0, maxTokens: 8 };

  it('returns exactly the declared fields', () => {
    expect(parseParams('complete', 'complete', { ...complete, extra: 'dropped' })).toEqual(complete);
  });

  it('names the method, the field and the value at fault', () => {
    const cases: [unknown, string][] = [
      [{ ...complete, line: 1.5 }, 'complete: params.line must be an integer ≥ 0 (got 1.5)'],
      [{ ...complete, path: '' }, 'complete: params.path must be a non-empty string (got "")'],
      [{ ...complete, maxTokens: 0 }, 'complete: params.maxTokens must be in [1, 4096] (got 0)'],
      [null, 'complete: params must be an object (got null)'],
    ];
    for (const [params, message] of cases) expect(() => parseParams('complete', 'complete', params)).toThrow(message);
    expect(() => parseParams('complete', 'complete', { ...complete, text: 5 })).toThrow(InvalidParamsError);
  });

  it('checks nested settings and content changes', () => {
    const change = {
      range: { start: { line: 0, character: 0 }, end: { line: 0, character: -1 } },
      rangeOffset: 0,
      rangeLength: 0,
      text: '',
    };
    expect(() => parseParams('didChange', 'document/didChange', { path: 'a', version: 2, changes: [change] })).toThrow(
      'params.changes[0].range.end.character must be an integer ≥ 0',
    );
    expect(() =>
      parseParams('initialize', 'initialize', {
        folders: [],
        settings: { modelPath: '', executionProvider: 'auto', cacheDir: '/c', exclude: [], cache: { kvBits: 3 } },
      }),
    ).toThrow('params.settings.cache.kvBits must be one of 2, 4, 8, 16 (got 3)');
    expect(parseParams('fileChanged', 'file/didChange', { path: 'a', text: null })).toEqual({ path: 'a', text: null });
  });
});

describe('KeyedQueue', () => {
  it('runs tasks in order per key, keys independently, and forgets settled keys', async () => {
    const q = new KeyedQueue();
    const order: string[] = [];
    const task =
      (name: string, ms: number, fail = false) =>
      () =>
        new Promise<void>((resolve, reject) =>
          setTimeout(() => {
            order.push(name);
            if (fail) reject(new Error(name));
            else resolve();
          }, ms),
        );
    const a1 = q.run('a', task('a1', 20, true));
    const a2 = q.run('a', task('a2', 1));
    const b1 = q.run('b', task('b1', 5));
    await expect(a1).rejects.toThrow('a1');
    await Promise.all([a2, b1]);
    expect(order).toEqual(['b1', 'a1', 'a2']);
    await q.idle();
    expect(q.size).toBe(0);
  });
});
