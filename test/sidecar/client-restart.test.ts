import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { SidecarClient, type SpawnFn } from '../../src/extension/sidecar-client';
import * as P from '../../src/sidecar/protocol';
import { buildTestSidecar, initializeParams, waitFor } from './child';

const COMPLETE: P.CompletionRequest = {
  path: 'a.ts',
  text: 'let a = ',
  version: 1,
  line: 0,
  character: 8,
  maxTokens: 8,
};

let client: SidecarClient | undefined;

function makeClient() {
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  const notes: string[] = [];
  const spawnRecorded: SpawnFn = (command, args, options) => {
    const child = spawn(command, args, options);
    children.push(child);
    return child;
  };
  client = new SidecarClient({
    sidecarPath: buildTestSidecar(),
    spawn: spawnRecorded,
    initializeParams: () => initializeParams(),
    log: (level, message) => logs.push(`${level} ${message}`),
    notify: (kind, message) => notes.push(`${kind}: ${message}`),
    backoff: { initialMs: 50 },
  });
  let starts = 0;
  // As the document sync does: every (re)started sidecar gets the open documents again.
  client.onDidStart(() => {
    starts++;
    client!.notify(P.DidOpenNotification, { path: 'a.ts', version: 7, text: 'let a = ' });
  });
  return { client, children, logs, notes, starts: () => starts };
}

const token = () => new CancellationTokenSource().token;

beforeAll(() => void buildTestSidecar(), 60_000);

afterEach(async () => {
  await client?.dispose();
  client = undefined;
});

describe('SidecarClient with a real sidecar process', { timeout: 20_000 }, () => {
  it('restarts a killed sidecar, says so once, and re-sends initialize and the open documents', async () => {
    const t = makeClient();
    t.client.start();
    await waitFor(() => t.client.state === 'ready', 5000, 'ready');
    expect((await t.client.complete(COMPLETE, token()))?.text).toBe('/*a.ts:0:8*/');

    t.children[0]!.kill('SIGKILL');
    await waitFor(() => t.client.state === 'restarting', 5000, 'restarting');
    await waitFor(() => t.client.state === 'ready' && t.children.length === 2, 5000, 'the second sidecar');

    expect(t.notes).toEqual([
      expect.stringMatching(/^warning: RepoKV: the sidecar was killed \(SIGKILL\); restarting/),
    ]);
    expect(t.starts()).toBe(2);
    await waitFor(() => t.logs.filter((l) => l.includes('opened a.ts v7')).length === 2, 5000, 'documents re-sent');
    expect((await t.client.complete(COMPLETE, token()))?.text).toBe('/*a.ts:0:8*/');
  });

  it('restarts after a crash inside a request, and the failed request just yields nothing', async () => {
    const t = makeClient();
    t.client.start();
    await waitFor(() => t.client.state === 'ready', 5000, 'ready');
    expect(await t.client.complete({ ...COMPLETE, text: 'CRASH' }, token())).toBeUndefined();
    await waitFor(() => t.client.state === 'ready' && t.children.length === 2, 5000, 'the second sidecar');
    expect(t.notes[0]).toContain('exited with code 3');
  });

  it('stops the sidecar in an orderly way on dispose (shutdown, exit code 0)', async () => {
    const t = makeClient();
    t.client.start();
    await waitFor(() => t.client.state === 'ready', 5000, 'ready');
    const exited = new Promise<number | null>((resolve) => t.children[0]!.on('exit', (code) => resolve(code)));
    await t.client.dispose();
    expect(await exited).toBe(0);
    expect(t.client.state).toBe('stopped');
    expect(t.notes).toEqual([]);
  });
});
