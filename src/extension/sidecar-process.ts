/**
 * One sidecar process: spawned with the extension host's own Node (`process.execPath` with
 * `ELECTRON_RUN_AS_NODE=1`, so no separate Node install is needed), JSON-RPC over its stdin and stdout, its stderr
 * into the log, its notifications to the handlers. It reports its end exactly once, with the reason a user can
 * read. Restarting is the client's business (sidecar-client.ts).
 */
import { spawn as nodeSpawn, type SpawnOptions } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import {
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import * as P from '../sidecar/protocol';
import { forwardLines } from './rpc-util';

/** The part of a ChildProcess used here, so that tests can hand in a fake one. */
export interface ChildLike {
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  kill(signal?: NodeJS.Signals): boolean;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}
export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildLike;

export interface LaunchOptions {
  /** Absolute path of the sidecar bundle. */
  readonly sidecarPath: string;
  /** The Node to run it with; default the host's own executable. */
  readonly command?: string;
  readonly spawn?: SpawnFn;
  readonly log: (level: P.LogLevel, message: string) => void;
}

export interface ProcessHandlers {
  /** The process is gone (or unusable and killed); called once. */
  ended(reason: string): void;
  progress(p: P.IndexProgress): void;
  chatDelta(p: P.ChatDeltaParams): void;
  outOfSync(path: string): void;
}

export interface SidecarProcess {
  readonly child: ChildLike;
  readonly connection: MessageConnection;
  readonly startedAt: number;
  /** Set once it ended; the connection is disposed then. */
  readonly ended: boolean;
  /** Ends it without an exit event (an orderly stop that timed out, a replacement). */
  end(reason: string): void;
}

/** Spawns and connects a sidecar; throws when it cannot even be spawned. */
export function launchSidecar(options: LaunchOptions, startedAt: number, handlers: ProcessHandlers): SidecarProcess {
  const spawn = options.spawn ?? (nodeSpawn as unknown as SpawnFn);
  const child = spawn(options.command ?? process.execPath, [options.sidecarPath], {
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
    windowsHide: true,
  });
  if (!child.stdin || !child.stdout || !child.stderr) throw new Error('the sidecar has no stdio pipes');
  const log = options.log;
  const connection = createMessageConnection(
    new StreamMessageReader(child.stdout),
    new StreamMessageWriter(child.stdin),
    {
      error: (m) => log('error', m),
      warn: (m) => log('warn', m),
      info: (m) => log('info', m),
      log: (m) => log('debug', m),
    },
  );
  let ended = false;
  const end = (reason: string): void => {
    if (ended) return;
    ended = true;
    connection.dispose();
    child.kill();
    handlers.ended(reason);
  };
  child.on('error', (err) => end(`failed: ${err.message}`));
  child.on('exit', (code, signal) => end(signal ? `was killed (${signal})` : `exited with code ${code}`));
  // Writing to a sidecar that just died fails with EPIPE; the exit event is what deals with the death.
  child.stdin.on('error', () => undefined);
  forwardLines(child.stderr, (line) => log('warn', `[sidecar] ${line}`));
  connection.onNotification(P.LogNotification, (p) => log(p.level, p.message));
  connection.onNotification(P.ProgressNotification, handlers.progress);
  connection.onNotification(P.ChatDeltaNotification, handlers.chatDelta);
  connection.onNotification(P.OutOfSyncNotification, (p) => handlers.outOfSync(p.path));
  connection.onClose(() => {
    // Its stdout closed: the exit event, which says why, normally follows at once. Wait a moment for it.
    const timer = setTimeout(() => end('closed its connection'), 1000);
    child.on('exit', () => clearTimeout(timer));
  });
  connection.listen();
  return {
    child,
    connection,
    startedAt,
    get ended() {
      return ended;
    },
    end,
  };
}
