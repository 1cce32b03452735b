/**
 * `model/validate`: whether a folder is a checkpoint RepoKV can run, without touching the running service. The
 * checkpoint loader already names the file and field at fault in its errors (CheckpointError), which is exactly
 * what the user who picked the folder needs to read, so its message is passed on as is.
 */
import { loadCheckpoint } from '../engine/checkpoint';
import type { ValidateModelResult } from './protocol';

export function validateCheckpoint(dir: string): ValidateModelResult {
  try {
    const { config } = loadCheckpoint(dir);
    const description =
      `${config.architecture}, ${config.numLayers} layers, hidden size ${config.hiddenSize}, ` +
      `${config.numKvHeads} key-value heads, context ${config.maxPositionEmbeddings}`;
    return { ok: true, description };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
