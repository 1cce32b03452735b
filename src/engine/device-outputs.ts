/**
 * The session side of state that stays on the device (the loop is src/engine/device-kv.ts): when a session uses
 * the device-state graph, where its outputs live, and how `forward` still serves callers that keep a host cache.
 *
 * Chosen per provider: on WebGPU by default (onnxruntime-node's 'gpu-buffer' outputs are WebGPU buffers; a CUDA
 * output would be read back anyway), on the CPU only when forced (tests, benchmarks), since there the host path
 * appends rows in place while the device-state path copies the whole present out of every step.
 */
import { Tensor } from 'onnxruntime-node';
import { PRESENT_LAYOUT } from '../../kernels/device-state';
import type { ExecutionProvider } from './providers';

/** 'auto': on for WebGPU; 'on' forces it (also on the CPU); 'off' keeps the host path everywhere. */
export type DeviceStateChoice = 'auto' | 'on' | 'off';

/**
 * REPOKV_DEVICE_STATE=auto|on|off: the choice for commands that have no option of their own (the CLI, the GPU
 * measurement script comparing both paths); unset = undefined (the caller's default).
 */
export function deviceStateFromEnv(value = process.env.REPOKV_DEVICE_STATE): DeviceStateChoice | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'auto' || value === 'on' || value === 'off') return value;
  throw new Error(`REPOKV_DEVICE_STATE must be auto, on or off (got "${value}")`);
}

export function useDeviceState(choice: DeviceStateChoice, provider: ExecutionProvider): boolean {
  return choice === 'on' || (choice === 'auto' && provider === 'webgpu');
}

/**
 * Output locations of a device-state session: the present and the logits stay on the device, the chosen token
 * comes to the host. Every run fetches every output: onnxruntime-node 1.30 keeps one IO binding per session once
 * preferredOutputLocation is set, and a run fetching another subset of outputs than the one before fails
 * ("Output count mismatch") or hands values back under the wrong names. Logits left on the device cost nothing
 * unless they are read (sampling, a logit constraint).
 */
export function deviceLocations(numLayers: number): Record<string, 'gpu-buffer' | 'cpu'> {
  const out: Record<string, 'gpu-buffer' | 'cpu'> = { logits: 'gpu-buffer', next_token: 'cpu' };
  for (let l = 0; l < numLayers; l++) {
    out[`present_key.${l}`] = 'gpu-buffer';
    out[`present_value.${l}`] = 'gpu-buffer';
  }
  return out;
}

/**
 * For `DecoderSession.forward` on a device-state session (the sink's prefill, evaluation: callers that keep a
 * host cache): every output brought to the host, the present cut to the chunk's own rows as the plain graph
 * returns them. It costs a read of the whole present, so generation uses `DeviceKv` instead.
 */
export async function chunkOnHost(
  out: Record<string, Tensor>,
  pastLength: number,
  config: { numKvHeads: number; headDim: number },
): Promise<Record<string, Tensor>> {
  const row = config.numKvHeads * config.headDim;
  const result: Record<string, Tensor> = { ...out };
  for (const [name, t] of Object.entries(out)) {
    if (!name.startsWith('present_')) {
      if (t.location !== 'cpu') result[name] = new Tensor(t.type, await t.getData(true), t.dims);
      continue;
    }
    const all = (await t.getData()) as Float32Array;
    const tokens = all.length / row - pastLength;
    const rows = PRESENT_LAYOUT.rowsFrom(all, pastLength, config.numKvHeads, config.headDim);
    result[name] = new Tensor('float32', rows, [tokens, config.numKvHeads, config.headDim]);
    t.dispose();
  }
  return result;
}
