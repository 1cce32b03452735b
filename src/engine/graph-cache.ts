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
