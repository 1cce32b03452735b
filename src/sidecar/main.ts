/**
 * The sidecar process's entry (bundled to dist/sidecar.js; the extension host runs it with its own Node via
 * `ELECTRON_RUN_AS_NODE=1`). It only picks the real pieces: the repository service and the checkpoint check.
 */
import '../engine/float16-workaround';
import { bundledModelDir } from '../engine/paths';
import { validateCheckpoint } from './model-check';
import { createRepositoryService } from './repository-service';
import { serveStdio } from './stdio';

serveStdio(
  // An empty model path is the setting's default: coder-15m, the model that ships with the extension.
  (settings, log) => createRepositoryService({ ...settings, modelPath: settings.modelPath || bundledModelDir() }, log),
  { validateModel: validateCheckpoint },
);
