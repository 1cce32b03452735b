/**
 * The engine as the rest of RepoKV sees it: a checkpoint, its tokenizer and a decoder session, loaded together,
 * plus text-in/text-out generation. Everything above (cache, sidecar, CLI) holds one of these.
 */
import { loadCheckpoint } from './checkpoint';
import type { Checkpoint } from './checkpoint-types';
import { DecoderSession } from './decoder-session';
import { type DeviceStateChoice, deviceStateFromEnv } from './device-outputs';
import { detectFimTemplate, type FimTemplate } from './fim';
import { generate, type GenerateOptions, type GenerateResult } from './generate';
import type { OperatorSet } from '../../kernels/decoder-ops';
import type { WeightFormat } from '../../kernels/quantized-linear';
import type { WeightBits } from '../../kernels/weight-quant';
import { type ActivationPreference, withActivations } from './activations';
import type { ActivationType, GraphVariant } from './graph-cache';
import { bundledModelDir, defaultCacheDir } from './paths';
import type { Logger, ProviderPreference } from './providers';
import { TextTokenizer } from './tokenizer';
import { type OperatorPreference, withOperators } from './graph-operators';
import { weightFormat } from './weight-bits';

export interface EngineOptions {
  /** Checkpoint directory; default: the bundled coder-15m. */
  modelDir?: string;
  provider?: ProviderPreference;
  cacheDir?: string;
  log?: Logger;
  /** Always-shown warnings (an explicit GPU provider that fell back to CPU); default: `log`. */
  warn?: Logger;
  variant?: GraphVariant;
  threads?: number;
  /** 4, 8 or 32 (exact); 'auto' or absent: the default for the model's size (src/engine/weight-bits.ts). */
  weightBits?: WeightBits | 'auto';
  /** MatMulNBits accuracy level for quantized weights (benchmarks compare them). */
  weightAccuracyLevel?: 0 | 4;
  /** Plain or contrib operators; 'auto' or absent: by weights and provider (src/engine/graph-operators.ts). */
  operators?: OperatorPreference;
  /** 'auto' or absent: fp16 activations on GPU providers, float32 on the CPU (src/engine/activations.ts). */
  activations?: ActivationPreference;
  /**
   * State that stays on the device (src/engine/device-kv.ts): 'on' forces it (also on the CPU), 'off' keeps the
   * host path; default REPOKV_DEVICE_STATE, else 'auto' (on for WebGPU).
   */
  deviceState?: DeviceStateChoice;
}

export class Engine {
  private constructor(
    readonly checkpoint: Checkpoint,
    readonly tokenizer: TextTokenizer,
    readonly session: DecoderSession,
    readonly fim: FimTemplate | null,
    readonly cacheDir: string,
    /** Passed on to the cache's query sessions, so completions over a repository follow the engine's choice. */
    readonly deviceState: DeviceStateChoice,
  ) {}

  static async load(options: EngineOptions = {}): Promise<Engine> {
    const dir = options.modelDir ?? bundledModelDir();
    // Validate everything that can be wrong with the folder before spending time on graphs.
    const checkpoint = loadCheckpoint(dir);
    const tokenizer = TextTokenizer.fromDir(checkpoint.dir);
    const cacheDir = options.cacheDir ?? defaultCacheDir();
    const weights = weightFormat(checkpoint.config, options.weightBits, options.weightAccuracyLevel);
    const activations = options.activations ?? 'auto';
    const operators = options.operators ?? options.variant?.operators ?? 'auto';
    const variant = withOperators(
      withActivations(
        { ...(options.variant ?? { exposeHiddenStates: false }), ...(weights ? { weights } : {}) },
        activations,
      ),
      operators,
    );
    options.log?.(`weights: ${weights ? `${weights.bits}-bit MatMulNBits blocks` : 'exact (checkpoint, fp32)'}`);
    const deviceState = options.deviceState ?? deviceStateFromEnv() ?? 'auto';
    const session = await DecoderSession.create(checkpoint, {
      provider: options.provider ?? 'auto',
      cacheDir,
      variant,
      ...(activations === 'auto' ? { activations } : {}),
      ...(operators === 'auto' ? { operators } : {}),
      log: options.log,
      warn: options.warn,
      threads: options.threads,
      deviceState,
    });
    const { activations: a, operators: o } = session.variant;
    options.log?.(`activations: ${a ?? 'float32'}, operators: ${o ?? 'onnx'} on ${session.provider}`);
    return new Engine(checkpoint, tokenizer, session, detectFimTemplate(tokenizer), cacheDir, deviceState);
  }

  /**
   * The weight format, activation precision and operator set every graph of this engine must use (scoring,
   * compressed and fused cache graphs too), so that they all compute alike: spread into each variant and into
   * segment keys. Absent = exact weights, float32 activations, plain operators (the keys they always had).
   */
  get weights(): { weights?: WeightFormat; activations?: ActivationType; operators?: OperatorSet } {
    const { weights: w, activations: a, operators: o } = this.session.variant;
    return { ...(w ? { weights: w } : {}), ...(a ? { activations: a } : {}), ...(o ? { operators: o } : {}) };
  }

  get config() {
    return this.checkpoint.config;
  }

  /** End-of-sequence ids from config.json and generation_config.json: where generation stops by default. */
  get stopTokenIds(): number[] {
    return [...new Set([...this.config.eosTokenIds, ...this.checkpoint.generation.eosTokenIds])];
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  async generateText(prompt: string, options: GenerateOptions): Promise<GenerateResult> {
    const ids = this.encode(prompt);
    return generate(this.session, this.tokenizer, ids, { stopTokenIds: this.stopTokenIds, ...options });
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
