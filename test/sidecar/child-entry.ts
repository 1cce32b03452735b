// The sidecar process of the protocol tests: the real stdio wiring (framing guard, server, exit handling) around
// the fake service instead of the engine.
import { serveStdio } from '../../src/sidecar/stdio';
import { createFakeService } from './fake-service';

serveStdio(createFakeService, {
  validateModel: (path) =>
    path.endsWith('good') ? { ok: true, description: 'fake' } : { ok: false, error: `${path}: no config.json` },
});
