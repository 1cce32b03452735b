/**
 * The cache's working set for one model and configuration: the engine, the scoring session used at segment
 * prefill, the compressed-attention session used at query time, the shared sink, and the calibrated key bits.
 * It turns segment text into a SegmentKv and a set of SegmentKv into a query context; where segments come from
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
import type { QueryContext } from './query-context';
import { assembleRepositoryBlock } from './repository-block';
import { type PrefilledSegment, prefillSegment } from './segment-prefill';
import type { SegmentKv } from './segment-kv';
import { prefillSink, sinkIds } from './sink';
import { protectedTokenMask } from './token-offsets';

export interface SegmentSource {
  path: string;
  /** The segment's text, without the file header (the runtime adds the model family's header). */
  text: string;
  /** Character ranges of `text` that eviction must keep (declaration names, signatures). */
  protectedRanges?: { start: number; end: number }[];
}

export class CacheRuntime {
  private compressed: DecoderSession | null = null;

  private constructor(
    readonly engine: Engine,
    readonly config: CacheConfig,
    readonly scoring: DecoderSession,
    readonly sink: PlainKvCache,
    readonly sinkPrefix: string,
    readonly calibration: Calibration,
    private readonly probeIds: number[],
    private readonly log: Logger,
  ) {}

  static async create(
    engine: Engine,
    config: CacheConfig,
    repoName: string,
    log: Logger = () => {},
  ): Promise<CacheRuntime> {
    const fim = engine.fim;
    const ids = sinkIds(engine.encode(fim ? formatRepoHeader(fim, repoName) : ''), config.sinkTokens);
    const sink = await prefillSink(engine.session, ids);
    // The text the sink really holds (the prefix cut to sinkTokens): what segment caches depend on and are keyed by.
    const sinkPrefix = engine.tokenizer.decode(ids);
    const scoring = await DecoderSession.create(engine.checkpoint, {
      provider: engine.session.provider as 'cpu',
      cacheDir: engine.cacheDir,
      variant: { exposeHiddenStates: false, scoringWindow: config.window },
      log,
    });
    const calibration = await calibrate(scoring, sink, (t) => engine.encode(t), config);
    log(
      `calibration: 2-bit key error per layer ${calibration.keyError2bit.map((e) => e.toFixed(3)).join(' ')} → ` +
        `key bits ${calibration.keyBits.join(' ')}`,
    );
    // What a reader of the next file would look back at: a line end and the next file's separator.
    const probeIds = engine.encode(`\n${fim?.fileSepToken ?? ''}`);
    return new CacheRuntime(engine, config, scoring, sink, sinkPrefix, calibration, probeIds, log);
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

  async prefill(source: SegmentSource, overrides?: Partial<ScorerSteps>): Promise<PrefilledSegment> {
    const headerIds = this.engine.encode(this.fileHeader(source.path));
    const bodyIds = this.engine.encode(source.text);
    const ids = [...headerIds, ...bodyIds];
    const mask = new Uint8Array(ids.length);
    if (source.protectedRanges?.length) {
      mask.set(protectedTokenMask(this.engine.tokenizer, bodyIds, source.protectedRanges), headerIds.length);
    }
    return prefillSegment(
      { ids, headerTokens: headerIds.length, protectedMask: mask },
      {
        session: this.scoring,
        sink: this.sink,
        probeIds: this.probeIds,
        config: this.config,
        keyBits: this.keyBits,
        scorerOverrides: overrides,
      },
    );
  }

  /** The compressed-attention session for this configuration's per-layer bits (built on first use). */
  async compressedSession(): Promise<DecoderSession> {
    if (!this.compressed) {
      this.compressed = await DecoderSession.create(this.engine.checkpoint, {
        provider: this.engine.session.provider as 'cpu',
        cacheDir: this.engine.cacheDir,
        variant: { exposeHiddenStates: false, compressed: this.blockLayout() },
        log: this.log,
      });
    }
    return this.compressed;
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
  async queryContext(segments: SegmentKv[]): Promise<QueryContext> {
    const { numLayers, numKvHeads, headDim } = this.engine.config;
    const layout = this.blockLayout();
    const sinkLength = this.sink.length;
    const sequential = this.config.layout === 'sequential';
    const segmentStart: number[] = [];
    let next = sinkLength;
    for (const s of segments) {
      segmentStart.push(sequential ? next : s.firstPosition);
      next += s.tokens;
    }
    const slotPositions = layout.rotateKeys
      ? { mode: this.config.preRopeKeys ? ('absolute' as const) : ('delta' as const), segmentStart }
      : undefined;
    const block = assembleRepositoryBlock(
      segments,
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
    const longest = segments.reduce((m, s) => Math.max(m, s.tokens), 0);
    return {
      session: await this.compressedSession(),
      sink: this.sink,
      block,
      firstPosition: sequential ? next : sinkLength + longest,
      apeTemperature: this.config.apeTemperature,
    };
  }

  async dispose(): Promise<void> {
    await this.scoring.release();
    await this.compressed?.release();
  }
}
