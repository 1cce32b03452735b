/**
 * Execution provider selection. `auto` tries CUDA, then WebGPU, then CPU, and says which one runs and why the
 * others did not: a user who installed the CUDA binaries and still runs on CPU needs to see the reason.
 * `auto` asks provider-probe.ts first whether WebGPU can start here, so that a machine without a GPU hears
 * nothing from Dawn; an explicit `--provider webgpu` always tries, and says so when it cannot.
 */
import * as ort from 'onnxruntime-node';
import { defaultCacheDir } from './paths';
import { webGpuAvailability } from './provider-probe';

export type ProviderPreference = 'auto' | 'cuda' | 'webgpu' | 'cpu';
export const PROVIDER_PREFERENCES: readonly ProviderPreference[] = ['auto', 'cuda', 'webgpu', 'cpu'];

export interface ProviderChoice {
  session: ort.InferenceSession;
  provider: 'cuda' | 'webgpu' | 'cpu';
  /** One line per provider tried, e.g. "cuda: unavailable (Failed to load shared library)". */
  attempts: string[];
}

export type Logger = (line: string) => void;

export interface ProviderContext {
  /** Where the provider probe's answer is remembered (default: the user cache directory). */
  cacheDir?: string;
  /** Always shown (the CLI prints it without -v): an explicit GPU choice that fell back to CPU. */
  warn?: Logger;
  /**
   * Outputs to keep on the device, per provider (state that stays on the device: src/engine/device-kv.ts); the
   * node binding's 'gpu-buffer' is WebGPU's buffer, and on the CPU provider such outputs are ordinary tensors.
   */
  outputLocation?: (provider: ExecutionProvider) => ort.InferenceSession.SessionOptions['preferredOutputLocation'];
}

export type ExecutionProvider = 'cuda' | 'webgpu' | 'cpu';

function sessionOptions(
  provider: string,
  threads: number | undefined,
  outputLocation: ort.InferenceSession.SessionOptions['preferredOutputLocation'],
): ort.InferenceSession.SessionOptions {
  return {
    ...(outputLocation ? { preferredOutputLocation: outputLocation } : {}),
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    // Errors from a provider that cannot start are reported by us, once, in plain words; keep ORT's native
    // logger to fatal messages so a missing CUDA library does not print a wall of red text.
    logSeverityLevel: 4,
    ...(threads ? { intraOpNumThreads: threads } : {}),
  };
}

function reason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/WebGPU adapter/i.test(msg)) return 'no WebGPU adapter (GPU driver with Vulkan, Direct3D 12 or Metal needed)';
  if (/Cuda: Failed to load shared library/i.test(msg))
    return 'CUDA provider libraries not installed or CUDA runtime missing';
  return msg.split('\n')[0]!.slice(0, 200);
}

/** `modelPath` may depend on the provider that is tried (the device-state graph variant is for GPU providers). */
export async function createSession(
  modelPath: string | ((provider: ExecutionProvider) => string),
  preference: ProviderPreference,
  log: Logger,
  threads?: number,
  context: ProviderContext = {},
): Promise<ProviderChoice> {
  // An explicit GPU choice that cannot start still falls back to CPU: a copilot that refuses to run is worse
  // than a slow one, and the log line says what happened.
  const order: ('cuda' | 'webgpu' | 'cpu')[] =
    preference === 'auto' ? ['cuda', 'webgpu', 'cpu'] : preference === 'cpu' ? ['cpu'] : [preference, 'cpu'];
  // ORT's process-wide logger prints a provider library that fails to load as an error before our catch sees it;
  // we report that failure ourselves, in one line, so keep the native logger to fatal messages.
  ort.env.logLevel = 'fatal';
  const available = new Map(ort.listSupportedBackends().map((b) => [b.name, b.bundled]));
  const attempts: string[] = [];
  for (const provider of order) {
    if (provider !== 'cpu' && !available.has(provider)) {
      attempts.push(`${provider}: not built into this onnxruntime-node`);
      continue;
    }
    if (provider === 'webgpu' && preference === 'auto') {
      const probe = await webGpuAvailability(context.cacheDir ?? defaultCacheDir());
      if (probe.detail) log(`webgpu probe (${probe.source}) said: ${probe.detail.replace(/\s*\n\s*/g, ' | ')}`);
      if (probe.unavailable !== null) {
        const how = probe.source === 'cache' ? 'cached probe' : 'probed';
        attempts.push(`webgpu: unavailable (${probe.unavailable}; ${how})`);
        continue;
      }
    }
    try {
      const pathFor = typeof modelPath === 'string' ? modelPath : modelPath(provider);
      const options = sessionOptions(provider, threads, context.outputLocation?.(provider));
      const session = await ort.InferenceSession.create(pathFor, options);
      attempts.push(`${provider}: selected`);
      log(`execution provider: ${provider} (${attempts.join('; ')})`);
      if (preference !== 'auto' && provider !== preference)
        (context.warn ?? log)(`--provider ${preference} could not start: ${attempts[0]}; running on ${provider}`);
      return { session, provider, attempts };
    } catch (err) {
      attempts.push(`${provider}: unavailable (${reason(err)})`);
    }
  }
  throw new Error(`no execution provider could run the model: ${attempts.join('; ')}`);
}
