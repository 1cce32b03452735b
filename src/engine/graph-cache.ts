/**
 * Decoder graphs are built once per (checkpoint, graph variant, builder version) and kept on disk, because
 * converting and writing the weights of a real checkpoint takes far longer than loading them.
 * The directory is written under a temporary name and renamed into place, so concurrent builders (the CLI and
 * the sidecar at once) and crashes never leave a half-written graph behind.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildDecoderGraph, type DecoderGraphOptions } from '../../kernels/decoder-graph';
import { WEIGHTS_FILE } from '../../kernels/graph-builder';
import type { Checkpoint } from './checkpoint-types';

/** Bump when the graph builders change what they emit: old cached graphs are then rebuilt. */
export const GRAPH_BUILDER_VERSION = 3;

export type GraphVariant = DecoderGraphOptions;

export function graphKey(checkpoint: Checkpoint, variant: GraphVariant): string {
  return createHash('sha256')
    .update(JSON.stringify({ v: GRAPH_BUILDER_VERSION, model: checkpoint.identity, variant }))
    .digest('hex')
    .slice(0, 24);
}

/** Returns the path of `model.onnx` for this checkpoint and variant, building it first if needed. */
export function ensureDecoderGraph(
  checkpoint: Checkpoint,
  variant: GraphVariant,
  cacheDir: string,
  log: (line: string) => void = () => {},
): string {
  const dir = path.join(cacheDir, 'graphs', graphKey(checkpoint, variant));
  const modelPath = path.join(dir, 'model.onnx');
  if (fs.existsSync(modelPath)) return modelPath;
  const started = Date.now();
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  const reader = {
    has: (name: string) => checkpoint.tensors.has(name),
    read: (name: string) => checkpoint.readTensor(name),
  };
  buildDecoderGraph(checkpoint.config, reader, variant).save(tmp, {
    checkpoint: checkpoint.dir,
    identity: checkpoint.identity,
    variant: JSON.stringify(variant),
  });
  shareWeights(cacheDir, path.join(tmp, WEIGHTS_FILE), log);
  try {
    fs.renameSync(tmp, dir);
  } catch (err) {
    // Another process finished the same graph first: theirs is as good as ours.
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(modelPath)) throw err;
  }
  log(`built decoder graph ${path.basename(dir)} in ${Date.now() - started} ms`);
  return modelPath;
}

/**
 * Graph variants of one checkpoint (plain, scoring, one fused graph per capacity class, ...) carry the same
 * weights: keep one copy on disk, content-addressed, and hard-link each graph's `weights.bin` to it. Where links
 * are not possible (another file system, no permission) the graph keeps its own copy: sharing is an economy,
 * never a requirement.
 */
function shareWeights(cacheDir: string, weightsPath: string, log: (line: string) => void): void {
  try {
    const hash = createHash('sha256');
    const fd = fs.openSync(weightsPath, 'r');
    try {
      const buffer = Buffer.allocUnsafe(1 << 24);
      for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
    const shared = path.join(cacheDir, 'graphs', 'weights', `${hash.digest('hex').slice(0, 32)}.bin`);
    fs.mkdirSync(path.dirname(shared), { recursive: true });
    if (!fs.existsSync(shared)) {
      // Publish under a temporary name first: a reader never links to a half-written file.
      const tmp = `${shared}.tmp-${process.pid}-${Date.now()}`;
      fs.linkSync(weightsPath, tmp);
      fs.renameSync(tmp, shared);
      return;
    }
    const tmp = `${weightsPath}.link-${process.pid}`;
    fs.linkSync(shared, tmp);
    fs.renameSync(tmp, weightsPath);
  } catch (err) {
    log(`graph weights not shared (${(err as Error).message}): this graph keeps its own copy`);
  }
}
