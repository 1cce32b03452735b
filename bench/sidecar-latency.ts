/**
 * Completion latency through the real sidecar (dist/sidecar.js over stdio, as the extension runs it) during a
 * scripted typing session: a line of a repository file is typed character by character; every keystroke is sent
 * as an editor change and, like the debounced provider after a pause, every third keystroke asks for a completion.
 * Measured twice in one run: with the whole repository indexed, and with a workspace holding only that file.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  createMessageConnection,
  type MessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import * as P from '../src/sidecar/protocol';
import { median, percentile } from './stats';

async function session(
  root: string,
  file: string,
  cacheDir: string,
  typed: number,
  modelPath: string,
): Promise<number[]> {
  const child = spawn(process.execPath, [path.join(__dirname, 'sidecar.js')], { stdio: 'pipe' });
  const connection: MessageConnection = createMessageConnection(
    new StreamMessageReader(child.stdout),
    new StreamMessageWriter(child.stdin),
  );
  connection.listen();
  try {
    await connection.sendRequest(P.InitializeRequest, {
      folders: [root],
      settings: {
        modelPath,
        executionProvider: 'cpu',
        cache: { kvBits: 2, keepRatio: 0.5, sinkTokens: 4, eviction: 'defensive', maxMemoryMB: 1024 },
        cacheDir,
        exclude: [],
      },
    });
    const original = fs.readFileSync(path.join(root, file), 'utf8');
    const lines = original.split('\n');
    // Type the longest line of the second half of the file again, below itself.
    const candidates = lines.map((l, i) => [l, i] as const).slice(Math.floor(lines.length / 2));
    const [target, at] = candidates.reduce((best, c) => (c[0].trim().length > best[0].trim().length ? c : best));
    const indent = target.length - target.trimStart().length;
    const body = target.trimStart().slice(0, typed);
    let text = [...lines.slice(0, at + 1), target.slice(0, indent), ...lines.slice(at + 1)].join('\n');
    connection.sendNotification(P.DidOpenNotification, { path: file, version: 1, text });
    const latencies: number[] = [];
    for (let i = 0; i < body.length; i++) {
      const character = indent + i;
      text = [...lines.slice(0, at + 1), target.slice(0, indent) + body.slice(0, i + 1), ...lines.slice(at + 1)].join(
        '\n',
      );
      connection.sendNotification(P.DidChangeNotification, {
        path: file,
        version: i + 2,
        changes: [
          {
            range: { start: { line: at + 1, character }, end: { line: at + 1, character } },
            rangeOffset: 0,
            rangeLength: 0,
            text: body[i]!,
          },
        ],
      });
      if (i % 3 !== 2) continue;
      const started = performance.now();
      await connection.sendRequest(P.CompleteRequest, {
        path: file,
        text,
        version: i + 2,
        line: at + 1,
        character: character + 1,
        maxTokens: 16,
      });
      latencies.push(performance.now() - started);
    }
    await connection.sendRequest(P.ShutdownRequest, {}).catch(() => undefined);
    return latencies;
  } finally {
    connection.dispose();
    child.kill();
  }
}

/** `modelDir` '' = the sidecar's default model; `cacheDir` reused across runs keeps the converted graphs. */
export async function benchSidecarLatency(
  repo: string,
  file: string,
  typed: number,
  modelDir = '',
  cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-latency-')),
) {
  const modelPath = modelDir ? path.resolve(modelDir) : '';
  const alone = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-alone-'));
  fs.mkdirSync(path.dirname(path.join(alone, file)), { recursive: true });
  fs.copyFileSync(path.join(repo, file), path.join(alone, file));
  const withRepository = await session(path.resolve(repo), file, cacheDir, typed, modelPath);
  const withoutRepository = await session(alone, file, cacheDir, typed, modelPath);
  const summary = (ms: number[]) => ({ p50: median(ms), p90: percentile(ms, 90), n: ms.length });
  return { withRepository: summary(withRepository), withoutRepository: summary(withoutRepository) };
}
