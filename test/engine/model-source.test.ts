/**
 * createSession with a graph per provider (the form fp16 activations use): the graph is asked for only once the
 * provider starts, a graph that fails to open is healed once and retried, and an error building the graph is the
 * caller's error, not a reason to fall back to another provider.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import { ensureDecoderGraph } from '../../src/engine/graph-cache';
import { createSession, type ExecutionProvider } from '../../src/engine/providers';
import { TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

const good = () => ensureDecoderGraph(loadCheckpoint(TINY_MODEL), { exposeHiddenStates: false }, TEST_CACHE_DIR);

describe('a graph per provider', () => {
  it('heals a graph that fails to open, once, and opens the repaired one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-source-'));
    const broken = path.join(dir, 'model.onnx');
    fs.writeFileSync(broken, Buffer.alloc(64, 0xff));
    let current = broken;
    const asked: ExecutionProvider[] = [];
    const healed: ExecutionProvider[] = [];
    try {
      const choice = await createSession(
        {
          pathFor: (p) => (asked.push(p), current),
          heal: (p) => (healed.push(p), (current = good()), true),
        },
        'cpu',
        () => {},
      );
      await choice.session.release();
      expect(choice.provider).toBe('cpu');
      expect(asked).toEqual(['cpu', 'cpu']);
      expect(healed).toEqual(['cpu']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with the graph builder’s own error, without trying other providers', async () => {
    const source = {
      pathFor: () => {
        throw new RangeError('checkpoint is damaged');
      },
      heal: () => false,
    };
    await expect(createSession(source, 'cpu', () => {})).rejects.toThrow(/^checkpoint is damaged$/);
  });

  it('a graph that stays broken after healing is reported as before', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-source-'));
    const broken = path.join(dir, 'model.onnx');
    fs.writeFileSync(broken, Buffer.alloc(64, 0xff));
    try {
      await expect(createSession({ pathFor: () => broken, heal: () => false }, 'cpu', () => {})).rejects.toThrow(
        /^no execution provider could run the model: cpu: unavailable/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
