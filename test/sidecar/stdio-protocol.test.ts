import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc/node';
import * as P from '../../src/sidecar/protocol';
import { FAKE_STATS } from './fake-service';
import { buildTestSidecar, initializeParams, spawnTestSidecar, waitFor, type TestSidecar } from './child';

let sidecar: TestSidecar | undefined;

async function started(modelPath = ''): Promise<TestSidecar> {
  sidecar = spawnTestSidecar();
  await sidecar.connection.sendRequest(P.InitializeRequest, initializeParams(modelPath));
  return sidecar;
}

async function errorOf(promise: Promise<unknown>): Promise<ResponseError<unknown>> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ResponseError) return err;
    throw err;
  }
  throw new Error('expected the request to fail');
}

const hasLog = (s: TestSidecar, text: string): boolean => s.logs.some((l) => l.message.includes(text));

const COMPLETE: P.CompletionRequest = {
  path: 'src/a.ts',
  text: 'let a = ',
  version: 1,
  line: 0,
  character: 8,
  maxTokens: 16,
};

beforeAll(() => void buildTestSidecar(), 60_000);

afterEach(async () => {
  if (!sidecar) return;
  sidecar.connection.dispose();
  sidecar.child.kill();
  await sidecar.exited;
  sidecar = undefined;
});

describe('sidecar over stdio', { timeout: 20_000 }, () => {
  it('initializes (progress notifications, protocol version) and completes', async () => {
    sidecar = spawnTestSidecar();
    const progress: P.IndexProgress[] = [];
    sidecar.connection.onNotification(P.ProgressNotification, (p) => void progress.push(p));
    const init = await sidecar.connection.sendRequest(P.InitializeRequest, initializeParams());
    expect(init.protocolVersion).toBe(P.PROTOCOL_VERSION);
    expect(progress.at(-1)?.phase).toBe('idle');
    expect(progress.some((p) => p.phase === 'prefilling')).toBe(true);
    const result = await sidecar.connection.sendRequest(P.CompleteRequest, COMPLETE);
    expect(result.text).toBe('/*src/a.ts:0:8*/');
    expect(await sidecar.connection.sendRequest(P.StatsRequest, {})).toEqual(FAKE_STATS);
  });

  it('a factory failure is answered with its message, and later requests say there is no service', async () => {
    sidecar = spawnTestSidecar();
    const err = await errorOf(sidecar.connection.sendRequest(P.InitializeRequest, initializeParams('bad-model')));
    expect(err.code).toBe(P.SidecarErrorCodes.ServiceError);
    expect(err.message).toContain('config.json is missing');
    const later = await errorOf(sidecar.connection.sendRequest(P.CompleteRequest, COMPLETE));
    expect(later.code).toBe(P.SidecarErrorCodes.NotInitialized);
  });

  it('streams chat deltas tagged with the request id, then the whole answer', async () => {
    const s = await started();
    const deltas: P.ChatDeltaParams[] = [];
    s.connection.onNotification(P.ChatDeltaNotification, (p) => void deltas.push(p));
    const result = await s.connection.sendRequest(P.ChatRequestType, {
      requestId: 'c1',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(result.text).toBe('Hello from the fake service');
    expect(deltas.map((d) => d.delta).join('')).toBe(result.text);
    expect(deltas.every((d) => d.requestId === 'c1')).toBe(true);
  });

  it('cancelling a chat mid-stream aborts the service and answers RequestCancelled', async () => {
    const s = await started();
    let deltas = 0;
    s.connection.onNotification(P.ChatDeltaNotification, () => void deltas++);
    const source = new CancellationTokenSource();
    const answer = s.connection.sendRequest(
      P.ChatRequestType,
      { requestId: 'c2', messages: [{ role: 'user', content: 'forever' }] },
      source.token,
    );
    await waitFor(() => deltas >= 3, 5000, 'three deltas');
    source.cancel();
    expect((await errorOf(answer)).code).toBe(P.SidecarErrorCodes.RequestCancelled);
    await waitFor(() => hasLog(s, 'chat aborted after'), 5000, "the service's abort");
    const settled = deltas;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(deltas).toBe(settled);
  });

  it('cancelling a completion stops the decode loop within a step', async () => {
    const s = await started();
    const source = new CancellationTokenSource();
    const pending = s.connection.sendRequest(P.CompleteRequest, { ...COMPLETE, text: 'SLOW' }, source.token);
    await new Promise((resolve) => setTimeout(resolve, 30));
    source.cancel();
    expect((await errorOf(pending)).code).toBe(P.SidecarErrorCodes.RequestCancelled);
    await waitFor(() => hasLog(s, 'complete aborted after'));
    expect(s.child.exitCode).toBeNull();
  });

  it('answers params of the wrong type with InvalidParams naming the field, and keeps serving', async () => {
    const s = await started();
    const bad = await errorOf(s.connection.sendRequest('complete', { ...COMPLETE, line: '3' }));
    expect(bad.code).toBe(-32602);
    expect(bad.message).toContain('complete: params.line must be an integer');
    const positional = await errorOf(s.connection.sendRequest('complete', [COMPLETE, 1]));
    expect(positional.code).toBe(-32602);
    const nested = await errorOf(
      s.connection.sendRequest('chat', { requestId: 'x', messages: [{ role: 'system', content: 'hi' }] }),
    );
    expect(nested.message).toContain('params.messages[0].role must be one of user, assistant');
    s.connection.sendNotification('document/didChange', { path: 'a.ts', version: -1, changes: [] });
    await waitFor(() => hasLog(s, 'document/didChange: params.version'));
    expect((await s.connection.sendRequest(P.CompleteRequest, COMPLETE)).text).toContain('src/a.ts');
  });

  it('answers an unknown method with MethodNotFound, and a failing service with its message', async () => {
    const s = await started();
    expect((await errorOf(s.connection.sendRequest('no/such/method', {}))).code).toBe(-32601);
    const failed = await errorOf(s.connection.sendRequest(P.CompleteRequest, { ...COMPLETE, text: 'THROW' }));
    expect(failed.message).toContain('engine exploded');
    expect((await s.connection.sendRequest(P.CompleteRequest, COMPLETE)).text).toContain('src/a.ts');
  });

  it('survives garbage bytes, bad JSON and a lying Content-Length, answering each with an error', async () => {
    const s = await started();
    const frame = (body: string): string => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    s.child.stdin.write('this is not a frame at all\r\n\r\n');
    s.child.stdin.write(frame('{"bad": }'));
    s.child.stdin.write(frame('[]'));
    s.child.stdin.write(frame('{"jsonrpc":1}'));
    s.child.stdin.write(frame('{"jsonrpc":"2.0","method":"$/cancelRequest"}'));
    s.child.stdin.write('Content-Length: 999999\r\n\r\n{"jsonrpc":"2.0",');
    // Every one of them dropped or answered: the next real request still gets its answer.
    expect((await s.connection.sendRequest(P.CompleteRequest, COMPLETE)).text).toContain('src/a.ts');
    await waitFor(
      () => s.clientErrors.filter((e) => e.includes('without id')).length >= 6,
      5000,
      'the error responses',
    );
    const errors = s.clientErrors.join('\n');
    for (const expected of [
      'dropped bytes that are not a JSON-RPC frame',
      'is not valid JSON',
      'batches are not supported',
      '"jsonrpc\\" must be \\"2.0\\"',
      '$/cancelRequest needs params.id',
      'dropped a frame shorter than its Content-Length',
    ]) {
      expect(errors).toContain(expected);
    }
    expect(s.child.exitCode).toBeNull();
  });

  it('applies document edits in order per path, and reports an out-of-order version without crashing', async () => {
    const s = await started();
    const outOfSync: P.OutOfSyncParams[] = [];
    s.connection.onNotification(P.OutOfSyncNotification, (p) => void outOfSync.push(p));
    const edit = (version: number, offset: number, text: string): P.DidChangeParams => ({
      path: 'a.ts',
      version,
      changes: [
        {
          range: { start: { line: 0, character: offset }, end: { line: 0, character: offset } },
          rangeOffset: offset,
          rangeLength: 0,
          text,
        },
      ],
    });
    void s.connection.sendNotification(P.DidOpenNotification, { path: 'a.ts', version: 1, text: 'ab' });
    void s.connection.sendNotification(P.DidChangeNotification, edit(2, 1, 'X'));
    void s.connection.sendNotification(P.DidChangeNotification, edit(3, 2, 'Y'));
    void s.connection.sendNotification(P.DidChangeNotification, edit(2, 0, 'Z'));
    await waitFor(() => outOfSync.length > 0, 5000, 'document/outOfSync');
    expect(outOfSync[0]).toMatchObject({ path: 'a.ts' });
    expect(outOfSync[0]!.reason).toContain('version 2 is not newer than 3');
    expect(hasLog(s, 'changed a.ts v3: "aXYb"')).toBe(true);
    expect(s.logs.some((l) => l.level === 'warn' && l.message.includes('rejected'))).toBe(true);
    expect((await s.connection.sendRequest(P.CompleteRequest, COMPLETE)).text).toContain('src/a.ts');
  });

  it('validates a model folder without touching the service, and exits after shutdown', async () => {
    const s = await started();
    expect(await s.connection.sendRequest(P.ValidateModelRequest, { path: '/models/good' })).toEqual({
      ok: true,
      description: 'fake',
    });
    expect(await s.connection.sendRequest(P.ValidateModelRequest, { path: '/models/bad' })).toEqual({
      ok: false,
      error: '/models/bad: no config.json',
    });
    expect(await s.connection.sendRequest(P.ShutdownRequest, {})).toBeNull();
    expect(await s.exited).toBe(0);
    expect(hasLog(s, 'disposed')).toBe(true);
  });

  it('exits when its stdin closes (the extension host went away)', async () => {
    const s = await started();
    s.child.stdin.end();
    expect(await s.exited).toBe(0);
  });
});
