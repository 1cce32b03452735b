/**
 * Decoder graphs are built once per (checkpoint, graph variant, builder version) and kept on disk, because
 * converting and writing the weights of a real checkpoint takes far longer than loading them.
 * The directory is written under a temporary name and renamed into place, so concurrent builders (the CLI and
 * the sidecar at once) and crashes never leave a half-written graph behind. Each directory carries a manifest
 * (graph-manifest.ts) checked before a session opens it; a damaged entry is rebuilt on the spot, with one line
 * saying so, and so is the shared weights copy with every variant linking it (graph-weights.ts).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildDecoderGraph, type DecoderGraphOptions } from '../../kernels/decoder-graph';
import { convertToFloat16 } from '../../kernels/float16-graph';
import { WEIGHTS_FILE } from '../../kernels/graph-builder';
import type { Checkpoint } from './checkpoint-types';
import { checkGraphDir, writeManifest } from './graph-manifest';
import { relinkWeights, shareWeights } from './graph-weights';

/** Bump when the graph builders change what they emit: old cached graphs are then rebuilt. */
export const GRAPH_BUILDER_VERSION = 4;

export type ActivationType = 'float16' | 'float16-emulated';

export interface GraphVariant extends DecoderGraphOptions {
  /**
   * 'float16': activations, weights and constants in fp16 inside the graph, its inputs and outputs still float32
   * (kernels/float16-graph.ts; chosen for GPU providers). 'float16-emulated': a test and measurement instrument for
   * CPUs, float32 arithmetic with every value rounded where the fp16 graph would store it in fp16. Absent: float32,
   * the key every existing graph has.
   */
  activations?: ActivationType;
}

type Log = (line: string) => void;

export function graphKey(checkpoint: Checkpoint, variant: GraphVariant): string {
  return createHash('sha256')
    .update(JSON.stringify({ v: GRAPH_BUILDER_VERSION, model: checkpoint.identity, variant }))
    .digest('hex')
    .slice(0, 24);
}

function graphDir(checkpoint: Checkpoint, variant: GraphVariant, cacheDir: string): string {
  return path.join(cacheDir, 'graphs', graphKey(checkpoint, variant));
}

/**
 * Returns the path of `model.onnx` for this checkpoint and variant, building it first if needed and rebuilding
 * it if it does not match its manifest. `log` gets routine lines, `warn` the one line of a repair.
 */
export function ensureDecoderGraph(
  checkpoint: Checkpoint,
  variant: GraphVariant,
  cacheDir: string,
  log: Log = () => {},
  warn: Log = log,
): string {
  const dir = graphDir(checkpoint, variant, cacheDir);
  if (fs.existsSync(dir)) {
    const problem = checkGraphDir(dir);
    if (problem) rebuild(checkpoint, variant, cacheDir, dir, problem, log, warn);
    return path.join(dir, 'model.onnx');
  }
  const started = Date.now();
  const { tmp } = buildGraph(checkpoint, variant, cacheDir, log);
  try {
    fs.renameSync(tmp, dir);
  } catch (err) {
    // Another process finished the same graph first: theirs is as good as ours.
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(dir)) throw err;
  }
  log(`built decoder graph ${path.basename(dir)} in ${Date.now() - started} ms`);
  return path.join(dir, 'model.onnx');
}

/**
 * For a session that failed to open although the quick check passed: hashes every file of the graph and
 * rebuilds it if that finds damage. Returns whether it rebuilt (then opening again is worth a try).
 */
export function healDecoderGraph(
  checkpoint: Checkpoint,
  variant: GraphVariant,
  cacheDir: string,
  log: Log = () => {},
  warn: Log = log,
): boolean {
  const dir = graphDir(checkpoint, variant, cacheDir);
  const problem = checkGraphDir(dir, true);
  if (problem) rebuild(checkpoint, variant, cacheDir, dir, problem, log, warn);
  return problem !== null;
}

function buildGraph(checkpoint: Checkpoint, variant: GraphVariant, cacheDir: string, log: Log) {
  const tmp = `${graphDir(checkpoint, variant, cacheDir)}.tmp-${process.pid}-${Date.now()}`;
  const reader = {
    has: (name: string) => checkpoint.tensors.has(name),
    read: (name: string) => checkpoint.readTensor(name),
  };
  const graph = buildDecoderGraph(checkpoint.config, reader, variant);
  if (variant.activations) convertToFloat16(graph.parts(), { emulate: variant.activations === 'float16-emulated' });
  graph.save(tmp, {
    checkpoint: checkpoint.dir,
    identity: checkpoint.identity,
    variant: JSON.stringify(variant),
  });
  const shared = shareWeights(cacheDir, path.join(tmp, WEIGHTS_FILE), log);
  writeManifest(tmp, GRAPH_BUILDER_VERSION, { [WEIGHTS_FILE]: shared.sha256 });
  return { tmp, shared };
}

/**
 * Replaces a damaged graph directory by a fresh build. The damaged one is moved aside before the fresh one is
 * renamed in (never edited in place: a process may still have it open) and then removed. When the fresh build
 * found the shared weights copy damaged too, every other variant linked to that copy is relinked to the new one.
 */
function rebuild(
  checkpoint: Checkpoint,
  variant: GraphVariant,
  cacheDir: string,
  dir: string,
  problem: string,
  log: Log,
  warn: Log,
): void {
  const started = Date.now();
  const { tmp, shared } = buildGraph(checkpoint, variant, cacheDir, log);
  const aside = `${dir}.damaged-${process.pid}-${Date.now()}`;
  try {
    fs.renameSync(dir, aside);
  } catch {
    // Already moved by another process repairing the same entry.
  }
  try {
    fs.renameSync(tmp, dir);
  } catch (err) {
    // Another process put its own fresh build in place first: keep theirs if it checks out.
    fs.rmSync(tmp, { recursive: true, force: true });
    if (checkGraphDir(dir) !== null) throw err;
  }
  fs.rmSync(aside, { recursive: true, force: true });
  const relinked = shared.replaced ? relinkWeights(cacheDir, shared.replaced, shared.path) : 0;
  const others = relinked ? `; its shared weights were damaged too, ${relinked} other variant(s) relinked` : '';
  warn(`graph cache: ${path.basename(dir)} was damaged (${problem}): rebuilt in ${Date.now() - started} ms${others}`);
}
