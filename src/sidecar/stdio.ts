/**
 * The sidecar process around the server: JSON-RPC over its own stdin and stdout, nothing else. No port is ever
 * opened (nothing on the machine but the parent can talk to it), and stdout carries only protocol frames, so
 * every diagnostic goes to the `log` notification or to stderr, which the extension shows in its output channel.
 */
import { StreamMessageReader, StreamMessageWriter, createMessageConnection, type Logger } from 'vscode-jsonrpc/node';
import { FrameGuard } from './framing';
import { startServer, type ServerOptions } from './server';
import type { ServiceFactory } from './service';

export interface StdioOptions extends Pick<ServerOptions, 'validateModel'> {
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  /** How the process ends; tests of the wiring can replace it. */
  exit?: (code: number) => void;
}

export function serveStdio(factory: ServiceFactory, options: StdioOptions = {}): void {
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const stderr = (line: string): void => void process.stderr.write(`repokv sidecar: ${line}\n`);

  // A stray console.log anywhere in the engine would corrupt the protocol: route console output to stderr.
  console.log = console.info = console.debug = (...args: unknown[]) => stderr(args.map(String).join(' '));

  const writer = new StreamMessageWriter(stdout);
  const guard = new FrameGuard((problem) => {
    stderr(`invalid input: ${problem.message}`);
    writer
      .write({ jsonrpc: '2.0', id: problem.id, error: { code: problem.code, message: problem.message } } as never)
      .catch(() => undefined);
  });
  stdin.pipe(guard);
  const logger: Logger = { error: stderr, warn: stderr, info: () => undefined, log: () => undefined };
  const connection = createMessageConnection(new StreamMessageReader(guard), writer, logger);

  let exiting = false;
  const finish = (code: number): void => {
    if (exiting) return;
    exiting = true;
    // Flush what is queued on stdout (the answer to `shutdown`) before the process goes.
    stdout.write('', () => exit(code));
  };

  // A bug in one request handler must not take every other request (and the on-disk cache's writer) down.
  process.on('unhandledRejection', (reason) => stderr(`unhandled rejection: ${String(reason)}`));
  process.on('uncaughtException', (err) => {
    // After an uncaught exception the process state is unknown: exit, and let the client restart a clean one.
    stderr(`uncaught exception: ${err.stack ?? err.message}`);
    finish(1);
  });
  // The server exits when the connection closes (after disposing the service); should that never come, an ended
  // stdin still means the parent is gone, and an orphaned sidecar holding a model in memory helps nobody.
  stdin.on('end', () => setTimeout(() => finish(0), 5000).unref());

  startServer(factory, connection, { validateModel: options.validateModel, onExit: () => finish(0) });
}
