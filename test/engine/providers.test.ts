/**
 * Provider selection on a machine without a GPU (this one and CI): `auto` must end on CPU and say why CUDA and
 * WebGPU did not run; an explicit GPU choice must fall back to CPU with a log line, never refuse to run.
 * On a machine with a GPU set REPOKV_EXPECT_GPU=cuda|webgpu and the first case checks that instead.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import { ensureDecoderGraph } from '../../src/engine/graph-cache';
import { createSession } from '../../src/engine/providers';
import { TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

const modelPath = () => ensureDecoderGraph(loadCheckpoint(TINY_MODEL), { exposeHiddenStates: false }, TEST_CACHE_DIR);
const expectGpu = process.env.REPOKV_EXPECT_GPU;

describe('execution provider selection', () => {
  it('auto tries CUDA, then WebGPU, then CPU, and logs which runs and why', async () => {
    const lines: string[] = [];
    const choice = await createSession(modelPath(), 'auto', (l) => lines.push(l));
    try {
      if (expectGpu) {
        expect(choice.provider).toBe(expectGpu);
      } else {
        expect(choice.provider).toBe('cpu');
        expect(choice.attempts[0]).toMatch(/^cuda: (unavailable|not built)/);
        expect(choice.attempts[1]).toMatch(/^webgpu: (unavailable|not built)/);
        expect(choice.attempts[2]).toBe('cpu: selected');
      }
      // One line says which provider runs; a second may quote the WebGPU probe's own stderr.
      expect(lines.filter((l) => l.startsWith('execution provider:'))).toEqual([
        expect.stringContaining(`execution provider: ${choice.provider}`),
      ]);
    } finally {
      await choice.session.release();
    }
  });

  it.skipIf(!!expectGpu)('an explicit cuda choice falls back to CPU with the reason', async () => {
    const lines: string[] = [];
    const choice = await createSession(modelPath(), 'cuda', (l) => lines.push(l));
    try {
      expect(choice.provider).toBe('cpu');
      expect(lines[0]).toMatch(/execution provider: cpu \(cuda: (unavailable|not built).*cpu: selected\)/);
    } finally {
      await choice.session.release();
    }
  });

  it.skipIf(!!expectGpu)('an explicit webgpu choice tries, then warns that it runs on CPU', async () => {
    const lines: string[] = [];
    const warnings: string[] = [];
    const choice = await createSession(modelPath(), 'webgpu', (l) => lines.push(l), undefined, {
      warn: (l) => warnings.push(l),
    });
    try {
      expect(choice.provider).toBe('cpu');
      expect(choice.attempts[0]).toMatch(/^webgpu: unavailable \((?!.*probe)/);
      expect(warnings).toEqual([expect.stringMatching(/^--provider webgpu could not start: .*; running on cpu$/)]);
    } finally {
      await choice.session.release();
    }
  });

  it('cpu is always listed by onnxruntime-node', () => {
    expect(ort.listSupportedBackends().map((b) => b.name)).toContain('cpu');
  });
});
