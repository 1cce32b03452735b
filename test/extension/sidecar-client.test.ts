import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node';
import { Backoff } from '../../src/extension/backoff';
import { SidecarClient, type ChildLike, type SidecarState } from '../../src/extension/sidecar-client';
import { startServer } from '../../src/sidecar/server';
import { createFakeService } from '../sidecar/fake-service';
import { initializeParams, waitFor } from '../sidecar/child';
import { FakeClock } from './fake-clock';

/** A child process that runs the real server with the fake service in this process, over in-memory pipes. */
class FakeChild extends EventEmitter implements ChildLike {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  private alive = true;

  constructor() {
    super();
    startServer(
      createFakeService,
      createMessageConnection(new StreamMessageReader(this.stdin), new StreamMessageWriter(this.stdout)),
    );
  }

  /** Dies as a crashed process does: its pipes close, then it reports its exit. */
  die(code: number | null, signal: NodeJS.Signals | null = null): void {
    if (!this.alive) return;
    this.alive = false;
    this.stdout.end();
    this.stderr.end();
    this.stdin.destroy();
    setImmediate(() => this.emit('exit', code, signal));
  }

  kill(): boolean {
    this.die(null, 'SIGTERM');
    return true;
  }
}

let client: SidecarClient | undefined;

function setup(maxAttempts = 8) {
  const clock = new FakeClock();
  const children: FakeChild[] = [];
  const notes: string[] = [];
  const states: SidecarState[] = [];
  client = new SidecarClient({
    sidecarPath: '/ext/dist/sidecar.js',
    spawn: () => {
      const child = new FakeChild();
      children.push(child);
      return child;
    },
    initializeParams: () => initializeParams(),
    log: () => undefined,
    notify: (kind, message) => notes.push(`${kind}: ${message}`),
    clock,
    backoff: { initialMs: 500, maxMs: 4000, resetAfterMs: 60_000, maxAttempts },
    shutdownGraceMs: 200,
  });
  client.onDidChangeState((s) => states.push(s));
  return { client, clock, children, notes, states };
}

afterEach(async () => {
  await client?.dispose();
  client = undefined;
});

describe('Backoff', () => {
  it('doubles from the initial wait up to the maximum, resets after a long run, and gives up', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 500, resetAfterMs: 1000, maxAttempts: 5 });
    expect([0, 0, 0, 0].map(() => b.next(10))).toEqual([100, 200, 400, 500]);
    expect(b.next(5000)).toBe(100);
    for (let i = 0; i < 4; i++) b.next(0);
    expect(b.next(0)).toBeUndefined();
    b.reset();
    expect(b.next(0)).toBe(100);
  });
});

describe('SidecarClient restarts', { timeout: 10_000 }, () => {
  it('restarts a dead sidecar after an exponentially growing wait, warning once per incident', async () => {
    const t = setup();
    t.client.start();
    await waitFor(() => t.client.state === 'ready', 2000, 'ready');
    for (const [n, wait] of [
      [1, 500],
      [2, 1000],
      [3, 2000],
      [4, 4000],
      [5, 4000],
    ] as const) {
      t.children[n - 1]!.die(1);
      await waitFor(() => t.client.state === 'restarting', 2000, `restarting ${n}`);
      t.clock.advance(wait - 1);
      expect(t.children).toHaveLength(n);
      t.clock.advance(1);
      expect(t.children).toHaveLength(n + 1);
      await waitFor(() => t.client.state === 'ready', 2000, `ready ${n}`);
    }
    expect(t.notes).toEqual(['warning: RepoKV: the sidecar exited with code 1; restarting it.']);
  });

  it('starts the sequence over once a sidecar has run for a while', async () => {
    const t = setup();
    t.client.start();
    await waitFor(() => t.client.state === 'ready', 2000, 'ready');
    t.children[0]!.die(1);
    await waitFor(() => t.client.state === 'restarting');
    t.clock.advance(500);
    await waitFor(() => t.client.state === 'ready');
    t.clock.advance(120_000);
    t.children[1]!.die(1);
    await waitFor(() => t.client.state === 'restarting');
    t.clock.advance(500);
    expect(t.children).toHaveLength(3);
    expect(t.notes).toHaveLength(2);
  });

  it('gives up after too many crashes in a row, until the user restarts it', async () => {
    const t = setup(2);
    t.client.start();
    for (let n = 0; n < 3; n++) {
      await waitFor(() => t.children.length === n + 1, 2000, `child ${n + 1}`);
      t.children[n]!.die(2);
      await waitFor(() => t.client.state !== 'indexing' && t.client.state !== 'starting' && t.client.state !== 'ready');
      t.clock.advance(10_000);
    }
    await waitFor(() => t.client.state === 'failed', 2000, 'failed');
    expect(t.children).toHaveLength(3);
    expect(t.notes.at(-1)).toMatch(/^error: .*keeps failing.*Restart Sidecar/);
    expect(t.client.lastError).toContain('exited with code 2');
    await t.client.restart();
    await waitFor(() => t.client.state === 'ready', 2000, 'ready after restart');
    expect(t.children).toHaveLength(4);
  });

  it('a settings change re-initialises the running sidecar instead of restarting it', async () => {
    const t = setup();
    let starts = 0;
    t.client.onDidStart(() => starts++);
    t.client.start();
    await waitFor(() => t.client.state === 'ready', 2000, 'ready');
    t.client.reinitialize();
    await waitFor(() => starts === 2 && t.client.state === 'ready', 2000, 're-initialised');
    expect(t.children).toHaveLength(1);
    expect(t.states.filter((s) => s === 'indexing')).toHaveLength(2);
  });
});
