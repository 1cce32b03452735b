/**
 * A writer process for the segment store's crash tests (test/cache/store-crash.test.ts), bundled with esbuild and
 * run by `node`, then killed with SIGKILL. It writes through the real SegmentStore, so the kill interrupts the real
 * write protocol. Imported by the test for the shared entry definitions; runs only with REPOKV_STORE_WRITER_CHILD=1.
 *
 *   node child.cjs <dir> loop <start>            puts entries start, start+1, … printing `put <i>` after each
 *   node child.cjs <dir> pause-partial <start>   puts start and start+1, then stops inside the write of start+2
 *   node child.cjs <dir> pause-full <start>      same, stopping after the last byte, before fsync and rename
 *
 * A paused child prints `paused <i> <temp file> <bytes written> <total>` and blocks until killed.
 */
import * as fs from 'node:fs';
import { segmentKey, SegmentStore } from '../../src/cache/store';
import { syntheticSegmentKv, type SyntheticKvShape } from '../../src/cache/store/synthetic-kv';
import type { SegmentKv } from '../../src/cache/segment-kv';

/** About 4.5 MB per entry: several 1 MiB write chunks, so a kill can land between them. */
export const CHILD_SHAPE: SyntheticKvShape = {
  layers: 2,
  kvHeads: 2,
  headDim: 128,
  tokens: 2048,
  kBits: [16, 2],
  vBits: [16, 4],
  groupSize: 32,
  keepRatio: 1,
};

/** Entries cycle over three contents so the loop spends its time writing rather than generating. */
export const CHILD_VARIANTS = 3;

export function childKey(i: number): string {
  return segmentKey({ modelId: 'crash-test', config: { kBits: 2 }, sinkPrefix: '<s>', segmentText: `segment ${i}` });
}

export function childKv(i: number): SegmentKv {
  return syntheticSegmentKv(i % CHILD_VARIANTS, CHILD_SHAPE);
}

/** Synchronous, so a line is in the pipe before the process blocks or dies. */
function say(line: string): void {
  fs.writeSync(1, line + '\n');
}

function main(): void {
  const [dir, mode, startArg] = process.argv.slice(2);
  const start = Number(startArg);
  const kvs = Array.from({ length: CHILD_VARIANTS }, (_, v) => childKv(v));
  let paused: number | null = null;
  const store = new SegmentStore(dir, {
    maxBytes: 1e12,
    writeHooks: {
      onProgress: (temp, written, total) => {
        if (paused === null) return;
        const stop = mode === 'pause-partial' ? written < total : written === total;
        if (!stop) return;
        say(`paused ${paused} ${temp} ${written} ${total}`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // until SIGKILL
      },
    },
  });
  // Bounded, so a child the parent failed to kill cannot fill the disk.
  for (let i = start; i < start + 30; i++) {
    if (mode !== 'loop' && i === start + 2) paused = i;
    store.put(childKey(i), kvs[i % CHILD_VARIANTS]);
    say(`put ${i}`);
    if (mode !== 'loop' && i === start + 2) throw new Error('the pause hook never fired');
  }
}

if (process.env.REPOKV_STORE_WRITER_CHILD === '1') main();
