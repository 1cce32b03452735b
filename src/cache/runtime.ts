/**
 * The cache's working set for one model and configuration: the engine, the scoring session used at segment
 * prefill, the compressed-attention session used at query time, the shared sink, and the calibrated key bits.
 * It turns segment text into a cached segment (KIVI or fused layout, quant-layout.ts) and a set of them into a
 * query context; where segments come from
 * (syntax), where they are kept (store) and which are chosen (selection) are other modules' jobs.
 */
import { DecoderSession } from '../engine/decoder-session';
import type { Engine } from '../engine/engine';
import { formatFileHeader, formatRepoHeader } from '../engine/fim';
import type { PlainKvCache } from '../engine/kv-cache';
import type { Logger } from '../engine/providers';
import type { CacheConfig } from './cache-config';
import { type Calibration, calibrate, calibrationFor } from './calibration';
import type { ScorerSteps } from './eviction/types';
import { assembleFusedBlock, capacityClass, fusedSlots } from './fused/block';
import { dequantizeFusedKeys, dequantizeFusedValues } from './fused/quantize';
import { compressSegmentFused, type FusedQuantConfig, type FusedSegmentKv, fusedGraphLayout } from './fused/segment';
import { calibrateKeySmoothing, type KeySmoothing } from './fused/smoothing';
import { effectiveQuantLayout } from './quant-layout';
import { dequantizeKeys, dequantizeValues } from './quantize';
import type { QueryContext } from './query-context';
import { assembleRepositoryBlock } from './repository-block';
import { compressSegment, type ScoredSegment, scoreSegment, type SegmentPrefillInput } from './segment-prefill';
import { type CachedSegment, isFused } from './segment-kv';
import { prefillSink, sinkIds } from './sink';
import { protectedTokenMask } from './token-offsets';

export interface SegmentSource {
  path: string;
  /** The segment's text, without the file header (the runtime adds the model family's header). */
  text: string;
  /** Character ranges of `text` that eviction must keep (declaration names, signatures). */
  protectedRanges?: { start: number; end: number }[];
}

/** Query-time sessions of one configuration: the KIVI graph, or one fused graph per capacity class. */
class BlockSessions {
  private kivi: Promise<DecoderSession> | null = null;
  private readonly fused = new Map<number, Promise<DecoderSession>>();

  kiviSession(create: () => Promise<DecoderSession>): Promise<DecoderSession> {
    return (this.kivi ??= create());
  }

  /** MatMulNBits takes the block's size as attributes: one graph per capacity class, built on first use. */
  fusedSession(capacity: number, create: () => Promise<DecoderSession>): Promise<DecoderSession> {
    let session = this.fused.get(capacity);
    if (!session) this.fused.set(capacity, (session = create()));
    return session;
  }

  async release(): Promise<void> {
    const all = [this.kivi, ...this.fused.values()].filter((s) => s !== null);
    this.kivi = null;
    this.fused.clear();
    await Promise.all(all.map(async (s) => (await s).release()));
  }
}

/** The key smoothing vectors of the fused layout, per center group, measured once per model and shared. */
type SmoothingCache = Map<number, Promise<KeySmoothing>>;

export class CacheRuntime {
  private readonly sessions = new BlockSessions();
  /** The storage layout this configuration resolves to (quant-layout.ts). */
  readonly quantLayout: 'kivi' | 'fused';

  private constructor(
    readonly engine: Engine,
    readonly config: CacheConfig,
    readonly scoring: DecoderSession,
    readonly sink: PlainKvCache,
    readonly sinkPrefix: string,
    readonly calibration: Calibration,
    private readonly probeIds: number[],
    private readonly smoothings: SmoothingCache,
    private readonly log: Logger,
  ) {
    this.quantLayout = effectiveQuantLayout(config, engine.config.headDim, engine.session.provider);
  }

  static async create(
    engine: Engine,
    config: CacheConfig,
    repoName: string,
    log: Logger = () => {},
  ): Promise<CacheRuntime> {
    // Refuse an impossible configuration before any work.
    effectiveQuantLayout(config, engine.config.headDim, engine.session.provider);
    const fim = engine.fim;
    const ids = sinkIds(engine.encode(fim ? formatRepoHeader(fim, repoName) : ''), config.sinkTokens);
    const sink = await prefillSink(engine.session, ids);
    // The text the sink really holds (the prefix cut to sinkTokens): what segment caches depend on and are keyed by.
    const sinkPrefix = engine.tokenizer.decode(ids);
    const scoring = await DecoderSession.create(engine.checkpoint, {
      provider: engine.session.provider as 'cpu',
      cacheDir: engine.cacheDir,
      variant: { ...engine.weights, exposeHiddenStates: false, scoringWindow: config.window },
      log,
      // Segment prefill reads every output on the host: nothing to keep on the device.
      deviceState: 'off',
    });
    const calibration = await calibrate(scoring, sink, (t) => engine.encode(t), config);
    log(
      `calibration: 2-bit key error per layer ${calibration.keyError2bit.map((e) => e.toFixed(3)).join(' ')} → ` +
        `key bits ${calibration.keyBits.join(' ')}`,
    );
    // What a reader of the next file would look back at: a line end and the next file's separator.
    const probeIds = engine.encode(`\n${fim?.fileSepToken ?? ''}`);
    const runtime = new CacheRuntime(engine, config, scoring, sink, sinkPrefix, calibration, probeIds, new Map(), log);
    if (runtime.quantLayout === 'fused') await runtime.smoothing();
    log(`cache layout: ${runtime.quantLayout} (${config.quantLayout} on ${engine.session.provider})`);
    return runtime;
  }

  /**
   * Loads (building on first use) the query graph the smallest repository blocks need, so that an editor's first
   * completion does not pay for it; commands that never query (`index`) skip this.
   */
  async warmUp(): Promise<void> {
    if (this.quantLayout === 'fused') await this.fusedSession(capacityClass(0, this.config.valueBlock));
    else await this.compressedSession();
  }

  get keyBits(): CacheConfig['kBits'][] {
    return this.calibration.keyBits;
  }

  /**
   * The same model, sink, scoring session and calibration under another configuration (bits, keep ratio,
   * policy, ...): evaluations compare many configurations without paying the prefill forward pass again.
   * Configurations that change the sink or the scoring pass need their own runtime.
   */
  derive(config: CacheConfig): CacheRuntime {
    if (config.sinkTokens !== this.config.sinkTokens || config.window !== this.config.window) {
      throw new Error('internal error: derive() cannot change sinkTokens or window');
    }
    const calibration = calibrationFor(this.calibration.errors, config);
    return new CacheRuntime(
      this.engine,
      config,
      this.scoring,
      this.sink,
      this.sinkPrefix,
      calibration,
      this.probeIds,
      this.smoothings,
      this.log,
    );
  }

  /** The probe appended after a segment for the observation window. */
  get probe(): number[] {
    return this.probeIds;
  }

  /** The header line a segment of `path` starts with. */
  fileHeader(path: string): string {
    return this.engine.fim ? formatFileHeader(this.engine.fim, path) : '';
  }

  /** Token ids of a segment (header line first) and its protected-token mask. */
  segmentInput(source: SegmentSource) {
    const headerIds = this.engine.encode(this.fileHeader(source.path));
    const bodyIds = this.engine.encode(source.text);
    const ids = [...headerIds, ...bodyIds];
    const protectedMask = new Uint8Array(ids.length);
    if (source.protectedRanges?.length) {
      protectedMask.set(protectedTokenMask(this.engine.tokenizer, bodyIds, source.protectedRanges), headerIds.length);
    }
    return { ids, headerTokens: headerIds.length, protectedMask };
  }

  /** The scoring forward pass of a segment: the part of a prefill every configuration shares. */
  score(source: SegmentSource): Promise<ScoredSegment> {
    return this.scoreInput(this.segmentInput(source));
  }

  /** The scoring pass of token ids already laid out as a segment (header first), after this runtime's sink. */
  scoreInput(input: SegmentPrefillInput): Promise<ScoredSegment> {
    return scoreSegment(input, this.scoring, this.sink, this.probeIds, this.config.window);
  }

  async prefill(source: SegmentSource, overrides?: Partial<ScorerSteps>): Promise<CachedSegment> {
    return this.compress(await this.score(source), overrides);
  }

  /** Eviction and quantization of a scored segment in this configuration's layout. */
  async compress(
    scored: ScoredSegment,
    overrides?: Partial<ScorerSteps>,
    filler?: ScoredSegment,
  ): Promise<CachedSegment> {
    if (this.quantLayout === 'kivi') return compressSegment(scored, this.config, this.keyBits, overrides, filler);
    return compressSegmentFused(scored, this.config, this.fusedQuant(), await this.smoothing(), overrides);
  }

  /**
   * Head h of layer l of a cached segment back in float32 ([kept, d] keys and values), in the space the keys
   * were quantized in: what attention sees of it. For statistics and tests.
   */
  async dequantizeHead(kv: CachedSegment, l: number, h: number): Promise<{ keys: Float32Array; values: Float32Array }> {
    if (isFused(kv)) {
      const head = kv.layers[l]![h]!;
      const smoothing = await this.smoothing();
      return {
        keys: dequantizeFusedKeys(head.keys, smoothing.forHead(l, h), this.fusedQuant().rotate === true),
        values: dequantizeFusedValues(head.values, this.fusedQuant().rotate === true),
      };
    }
    const head = kv.layers[l]![h]!;
    return { keys: dequantizeKeys(head.keys), values: dequantizeValues(head.values) };
  }

  /** The fused layout's blocks: keys per token over `groupSize` channels, centered per value block. */
  fusedQuant(): FusedQuantConfig {
    return {
      keyBits: this.keyBits,
      valueBits: this.config.vBits,
      keyBlock: this.config.groupSize,
      valueBlock: this.config.valueBlock,
      centerKeys: true,
      rotate: this.config.kvRotation === 'hadamard',
      range: this.config.rangeSearch,
    };
  }

  /** The key smoothing vector of this model for the fused layout (calibrated once, shared by derived runtimes). */
  smoothing(): Promise<KeySmoothing> {
    const centerGroup = this.config.valueBlock;
    let s = this.smoothings.get(centerGroup);
    if (!s) {
      s = calibrateKeySmoothing(this.scoring, this.sink, (t) => this.engine.encode(t), undefined, centerGroup);
      this.smoothings.set(centerGroup, s);
    }
    return s;
  }

  /** The compressed-attention session of the KIVI layout for this configuration's per-layer bits. */
  async compressedSession(): Promise<DecoderSession> {
    return this.sessions.kiviSession(() =>
      DecoderSession.create(this.engine.checkpoint, {
        provider: this.engine.session.provider as 'cpu',
        cacheDir: this.engine.cacheDir,
        variant: { ...this.engine.weights, exposeHiddenStates: false, compressed: this.blockLayout() },
        log: this.log,
        deviceState: this.engine.deviceState,
      }),
    );
  }

  /** The fused-attention session for a block of `capacity` token slots per layer. */
  private fusedSession(capacity: number): Promise<DecoderSession> {
    const quant = this.fusedQuant();
    return this.sessions.fusedSession(capacity, () =>
      DecoderSession.create(this.engine.checkpoint, {
        provider: this.engine.session.provider as 'cpu',
        cacheDir: this.engine.cacheDir,
        variant: {
          ...this.engine.weights,
          exposeHiddenStates: false,
          fused: fusedGraphLayout(quant, Array<number>(this.engine.config.numLayers).fill(capacity)),
        },
        log: this.log,
        deviceState: this.engine.deviceState,
      }),
    );
  }

  blockLayout() {
    const d = this.engine.config.headDim;
    return {
      keyBits: this.keyBits,
      valueBits: this.keyBits.map(() => this.config.vBits),
      keyGroup: this.config.groupSize,
      valueGroup: Math.min(this.config.groupSize, d),
      rotateKeys: this.config.preRopeKeys || this.config.layout === 'sequential',
    };
  }

  /**
   * A query over `segments` (in relevance order). Parallel layout: every segment where it was prefilled, local
   * tokens after the longest. Sequential layout: segments one after another in the given order, local tokens
   * after the last; their keys are rotated in the graph by the move (never re-rotated incrementally).
   */
  async queryContext(segments: CachedSegment[]): Promise<QueryContext> {
    const sinkLength = this.sink.length;
    const longest = segments.reduce((m, s) => Math.max(m, s.tokens), 0);
    const common = { sink: this.sink, apeTemperature: this.config.apeTemperature, selection: segments };
    if (this.quantLayout === 'fused') {
      const fused = segments.map((s) => {
        if (!isFused(s)) throw new Error('internal error: a KIVI segment in a fused-layout query');
        return s;
      });
      return { ...common, ...(await this.fusedBlock(fused)), firstPosition: sinkLength + longest };
    }
    const kivi = segments.map((s) => {
      if (isFused(s)) throw new Error('internal error: a fused segment in a KIVI-layout query');
      return s;
    });
    const { numLayers, numKvHeads, headDim } = this.engine.config;
    const layout = this.blockLayout();
    const sequential = this.config.layout === 'sequential';
    const segmentStart: number[] = [];
    let next = sinkLength;
    for (const s of kivi) {
      segmentStart.push(sequential ? next : s.firstPosition);
      next += s.tokens;
    }
    const slotPositions = layout.rotateKeys
      ? { mode: this.config.preRopeKeys ? ('absolute' as const) : ('delta' as const), segmentStart }
      : undefined;
    const block = assembleRepositoryBlock(
      kivi,
      {
        numLayers,
        numKvHeads,
        headDim,
        keyBits: layout.keyBits,
        valueBits: this.config.vBits,
        keyGroup: layout.keyGroup,
        valueGroup: layout.valueGroup,
      },
      this.config.apeScale,
      slotPositions,
    );
    return {
      ...common,
      session: await this.compressedSession(),
      block,
      firstPosition: sequential ? next : sinkLength + longest,
    };
  }

  /** The fused block of `segments` at the capacity class that holds its longest layer, and that class's session. */
  private async fusedBlock(segments: FusedSegmentKv[]) {
    const { numLayers, numKvHeads, headDim } = this.engine.config;
    const quant = this.fusedQuant();
    let most = 0;
    for (let l = 0; l < numLayers; l++) most = Math.max(most, fusedSlots(segments, l, numKvHeads, quant.valueBlock));
    const capacity = capacityClass(most, quant.valueBlock);
    const block = assembleFusedBlock(segments, { numLayers, numKvHeads, headDim, ...quant }, await this.smoothing(), {
      capacity: Array<number>(numLayers).fill(capacity),
      apeScale: this.config.apeScale,
    });
    return { block, session: await this.fusedSession(capacity) };
  }

  async dispose(): Promise<void> {
    await this.scoring.release();
    await this.sessions.release();
  }
}
