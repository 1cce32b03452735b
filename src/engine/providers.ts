/**
 * Execution provider selection. `auto` tries CUDA, then WebGPU, then CPU, and says which one runs and why the
 * others did not: a user who installed the CUDA binaries and still runs on CPU needs to see the reason.
 * `auto` asks provider-probe.ts first whether WebGPU can start here, so that a machine without a GPU hears
 * nothing from Dawn; an explicit `--provider webgpu` always tries, and says so when it cannot.
 */
import * as ort from 'onnxruntime-node';
import { encodeSmallGraph, TensorDataType, valueInfo } from '../../kernels/onnx-proto';
import { defaultCacheDir } from './paths';
import { webGpuAvailability } from './provider-probe';

export type ProviderPreference = 'auto' | 'cuda' | 'webgpu' | 'cpu';
export const PROVIDER_PREFERENCES: readonly ProviderPreference[] = ['auto', 'cuda', 'webgpu', 'cpu'];

export interface ProviderChoice {
  session: ort.InferenceSession;
  provider: ExecutionProvider;
  /** One line per provider tried, e.g. "cuda: unavailable (Failed to load shared library)". */
  attempts: string[];
}

export type Logger = (line: string) => void;

export type ExecutionProvider = 'cuda' | 'webgpu' | 'cpu';

/**
 * The graph to open: one path for every provider, or a graph per provider (fp16 activations on GPU providers),
 * built only once that provider has shown it can start, so a machine without a GPU never builds a GPU graph.
 * `heal` is asked after a graph that started fails to open: true when it repaired the graph (try it once more).
 */
export type ModelSource =
  string | { pathFor(provider: ExecutionProvider): string; heal(provider: ExecutionProvider): boolean };

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

/** A one-node graph, in memory: opening it shows whether a provider can start, at no cost of building a graph. */
function startCheckModel(): Uint8Array {
  return encodeSmallGraph({
    name: 'repokv-start-check',
    node: [{ name: 'identity', opType: 'Identity', input: ['x'], output: ['y'], attribute: [] }],
    initializer: [],
    input: [valueInfo('x', TensorDataType.FLOAT, [1])],
    output: [valueInfo('y', TensorDataType.FLOAT, [1])],
  });
}

/** A graph that could not be built or repaired: the caller's error, never a reason to try the next provider. */
class GraphError {
  constructor(readonly cause: unknown) {}
}

function graphFor(model: Exclude<ModelSource, string>, provider: ExecutionProvider, heal = false): string {
  try {
    if (heal && !model.heal(provider)) return '';
    return model.pathFor(provider);
  } catch (err) {
    throw new GraphError(err);
  }
}

async function openOn(
  model: ModelSource,
  provider: ExecutionProvider,
  threads: number | undefined,
  outputLocation: ort.InferenceSession.SessionOptions['preferredOutputLocation'],
): Promise<ort.InferenceSession> {
  const options = sessionOptions(provider, threads, outputLocation);
  if (typeof model === 'string') return ort.InferenceSession.create(model, options);
  const startCheck = sessionOptions(provider, threads, undefined);
  if (provider !== 'cpu') await (await ort.InferenceSession.create(startCheckModel(), startCheck)).release();
  try {
    return await ort.InferenceSession.create(graphFor(model, provider), options);
  } catch (err) {
    if (err instanceof GraphError) throw err;
    // The provider started, so the graph itself may be damaged beyond what the quick check sees.
    const healed = graphFor(model, provider, true);
    if (!healed) throw err;
    return ort.InferenceSession.create(healed, options);
  }
}

export async function createSession(
  modelPath: ModelSource,
  preference: ProviderPreference,
  log: Logger,
  threads?: number,
  context: ProviderContext = {},
): Promise<ProviderChoice> {
  // An explicit GPU choice that cannot start still falls back to CPU: a copilot that refuses to run is worse
  // than a slow one, and the log line says what happened.
  const order: ExecutionProvider[] =
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
      const session = await openOn(modelPath, provider, threads, context.outputLocation?.(provider));
      attempts.push(`${provider}: selected`);
      log(`execution provider: ${provider} (${attempts.join('; ')})`);
      if (preference !== 'auto' && provider !== preference)
        (context.warn ?? log)(`--provider ${preference} could not start: ${attempts[0]}; running on ${provider}`);
      return { session, provider, attempts };
    } catch (err) {
      if (err instanceof GraphError) throw err.cause;
      attempts.push(`${provider}: unavailable (${reason(err)})`);
    }
  }
  throw new Error(`no execution provider could run the model: ${attempts.join('; ')}`);
}
