/** Decoder sessions reading the repository context as a KIVI block or a fused (MatMulNBits) block, on the CPU. */
import * as ort from 'onnxruntime-node';
import { type FusedQuantConfig, fusedGraphLayout } from '../../src/cache/fused/segment';
import { DecoderSession } from '../../src/engine/decoder-session';
import { Engine } from '../../src/engine/engine';
import { type DecodeCacheOptions } from './options';

export async function kiviSession(engine: Engine, opts: DecodeCacheOptions): Promise<DecoderSession> {
  const layers = engine.config.numLayers;
  return DecoderSession.create(engine.checkpoint, {
    provider: 'cpu',
    cacheDir: engine.cacheDir,
    threads: opts.threads,
    variant: {
      ...engine.weights,
      exposeHiddenStates: false,
      compressed: {
        keyBits: Array(layers).fill(opts.bits),
        valueBits: Array(layers).fill(opts.bits),
        keyGroup: opts.groupSize,
        valueGroup: Math.min(opts.groupSize, engine.config.headDim),
        rotateKeys: false,
      },
    },
  });
}

export async function fusedSession(
  engine: Engine,
  quant: FusedQuantConfig,
  capacity: number[],
  threads?: number,
): Promise<DecoderSession> {
  return DecoderSession.create(engine.checkpoint, {
    provider: 'cpu',
    cacheDir: engine.cacheDir,
    threads,
    variant: { ...engine.weights, exposeHiddenStates: false, fused: fusedGraphLayout(quant, capacity) },
  });
}

/** The APE temperature input of the block graphs, at 1 (no scaling). */
export const apeFeed = () => ({ ape_inverse_temperature: new ort.Tensor('float32', Float32Array.of(1), [1]) });
