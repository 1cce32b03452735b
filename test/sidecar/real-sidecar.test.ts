/**
 * The built sidecar (dist/sidecar.js, what the extension spawns) over real stdio with tiny-coder (fast): it
 * indexes a small workspace, completes, streams a chat answer, takes an edit (statistics change), stops a
 * generation when cancelled, survives garbage and out-of-order messages, and after being killed a new process
 * reloads the cache from disk instead of prefilling.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CancellationTokenSource,
  createMessageConnection,
  type MessageConnection,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import * as P from '../../src/sidecar/protocol';
import { REPO_ROOT, TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

const SIDECAR = path.join(REPO_ROOT, 'dist', 'sidecar.js');

const FILES: Record<string, string> = {
  'src/math.ts':
    'export function clamp(x: number, lo: number, hi: number): number {\n  return Math.min(hi, Math.max(lo, x));\n}\n',
  'src/use.ts':
    "import { clamp } from './math';\n\nexport function percent(x: number): number {\n  return clamp(x, 0, 100);\n}\n",
  'notes.py': 'def greet(name):\n    return f"hello {name}"\n',
};

interface Running {
  connection: MessageConnection;
  exited: Promise<number | null>;
  kill(): void;
  progress: P.IndexProgress[];
}

const running: Running[] = [];

function start(): Running {
  const child = spawn(process.execPath, [SIDECAR], {
    stdio: 'pipe',
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
  });
  const connection = createMessageConnection(
    new StreamMessageReader(child.stdout),
    new StreamMessageWriter(child.stdin),
  );
  const progress: P.IndexProgress[] = [];
  connection.onNotification(P.ProgressNotification, (p) => void progress.push(p));
  connection.listen();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const r = { connection, exited, kill: () => child.kill('SIGKILL'), progress, child };
  running.push(r);
  return r;
}

function workspace(): { root: string; cacheDir: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-ws-'));
  for (const [rel, text] of Object.entries(FILES)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  fs.writeFileSync(path.join(root, '.env'), 'API_KEY=secret\n');
  return { root, cacheDir: fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-sidecar-cache-')) };
}

function init(r: Running, root: string, cacheDir: string) {
  // Graphs are shared with the other tests; the segment store is this test's own.
  fs.mkdirSync(cacheDir, { recursive: true });
  if (!fs.existsSync(path.join(cacheDir, 'graphs')))
    fs.symlinkSync(path.join(TEST_CACHE_DIR, 'graphs'), path.join(cacheDir, 'graphs'));
  return r.connection.sendRequest(P.InitializeRequest, {
    folders: [root],
    settings: {
      modelPath: TINY_MODEL,
      executionProvider: 'cpu',
      cache: { kvBits: 2, keepRatio: 0.5, sinkTokens: 4, eviction: 'defensive', maxMemoryMB: 256 },
      cacheDir,
      exclude: [],
    },
  });
}

afterEach(async () => {
  for (const r of running.splice(0)) {
    r.connection.dispose();
    r.kill();
    await r.exited;
  }
});

describe('the real sidecar over stdio', { timeout: 120_000 }, () => {
  it('indexes, completes, chats, takes edits, cancels, and survives bad input', async () => {
    fs.mkdirSync(TEST_CACHE_DIR, { recursive: true });
    fs.mkdirSync(path.join(TEST_CACHE_DIR, 'graphs'), { recursive: true });
    const { root, cacheDir } = workspace();
    const s = start();
    await init(s, root, cacheDir);
    expect(s.progress.at(-1)?.phase).toBe('idle');

    const stats = await s.connection.sendRequest(P.StatsRequest, {});
    expect(stats.files).toBe(3);
    expect(stats.skipped.map((k) => k.path)).toContain('.env');
    expect(stats.tokens).toBeGreaterThan(30);
    expect(stats.compressionRatio).toBeGreaterThan(4);
    expect(stats.provider).toBe('cpu');

    const text = FILES['src/use.ts']!;
    const completion = await s.connection.sendRequest(P.CompleteRequest, {
      path: 'src/use.ts',
      text,
      version: 1,
      line: 3,
      character: 2,
      maxTokens: 8,
    });
    expect(completion.tokens).toBeGreaterThan(0);
    expect(completion.contextTokens).toBeGreaterThan(stats.tokens / 2); // the other files are in context

    const deltas: string[] = [];
    s.connection.onNotification(P.ChatDeltaNotification, (p) => void deltas.push(p.delta));
    const answer = await s.connection.sendRequest(P.ChatRequestType, {
      requestId: 'q1',
      messages: [{ role: 'user', content: 'Write a Python function `add(a, b)`.' }],
      maxTokens: 12,
    });
    expect(answer.tokens).toBeGreaterThan(0);
    expect(deltas.join('')).toBe(answer.text);

    // An edit in the editor: open, then change; the statistics follow.
    s.connection.sendNotification(P.DidOpenNotification, { path: 'notes.py', version: 1, text: FILES['notes.py']! });
    s.connection.sendNotification(P.DidChangeNotification, {
      path: 'notes.py',
      version: 2,
      changes: [
        {
          range: { start: { line: 2, character: 0 }, end: { line: 2, character: 0 } },
          rangeOffset: FILES['notes.py']!.length,
          rangeLength: 0,
          text: '\n\ndef farewell(name):\n    return f"goodbye {name}, see you again soon"\n',
        },
      ],
    });
    // An out-of-order (stale) version is reported, not fatal.
    s.connection.sendNotification(P.DidChangeNotification, { path: 'notes.py', version: 1, changes: [] });
    let after = stats;
    for (let i = 0; i < 100 && after.tokens <= stats.tokens; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await s.connection.sendRequest(P.StatsRequest, {});
    }
    expect(after.tokens).toBeGreaterThan(stats.tokens);

    // Cancellation reaches the decode loop: a long generation ends early.
    const source = new CancellationTokenSource();
    const started = Date.now();
    // (Asked for a named function, the tiny model writes it and then repeats itself for hundreds of tokens.)
    const pending = s.connection.sendRequest(
      P.ChatRequestType,
      {
        requestId: 'q2',
        messages: [{ role: 'user', content: 'Write a Python function `flatten(xs)` that flattens a nested list.' }],
        maxTokens: 4000,
      },
      source.token,
    );
    setTimeout(() => source.cancel(), 500);
    const outcome = await pending.then(
      () => 'finished',
      (err: unknown) => (err instanceof ResponseError ? err.code : 'other'),
    );
    expect(outcome).toBe(-32800);
    expect(Date.now() - started).toBeLessThan(10_000);

    // Malformed params get an error naming the field; the process keeps serving.
    const bad = await s.connection
      .sendRequest(P.CompleteRequest, { path: 'src/use.ts', text, version: 1, line: -1, character: 0, maxTokens: 4 })
      .then(
        () => null,
        (err: unknown) => err as ResponseError<unknown>,
      );
    expect(bad?.code).toBe(-32602);
    expect(await s.connection.sendRequest(P.StatsRequest, {})).toHaveProperty('files', 3);
  });

  it('after a crash, a new sidecar reloads the cache from disk instead of prefilling', async () => {
    const { root, cacheDir } = workspace();
    const first = start();
    await init(first, root, cacheDir);
    const before = await first.connection.sendRequest(P.StatsRequest, {});
    expect(before.misses).toBeGreaterThan(0);
    first.kill();
    await first.exited;

    const second = start();
    await init(second, root, cacheDir);
    const after = await second.connection.sendRequest(P.StatsRequest, {});
    expect(after.misses).toBe(0);
    expect(after.hits).toBe(before.misses);
    expect(after.bytes).toBe(before.bytes);
  });
});
