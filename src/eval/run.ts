/**
 * `repokv eval run`: repository-level next-line tasks under every named cache configuration (DESIGN §6).
 * Per task the same segments are selected for every configuration (selection runs on the uncompressed
 * repository), each selected segment's scoring pass is computed once and compressed per configuration, and the
 * local context is the file's text before the cursor at full precision. Reported per configuration: exact match
 * and edit similarity of a greedy line, NLL per ground-truth token (teacher forced), KL divergence from `full`,
 * identifier exact match (every token overlapping the cross-file identifier predicted right), bytes per token,
 * and the context gain with its bootstrap interval.
 */
import * as fs from 'node:fs';
import type { CacheConfig } from '../cache/cache-config';
import { tailByTokens, offsetOf } from '../cache/prompts';
import { generateInContext, type QueryContext, targetLogits } from '../cache/query-context';
import { RepositoryCache } from '../cache/repository-cache';
import type { CacheRuntime } from '../cache/runtime';
import type { ScoredSegment } from '../cache/segment-prefill';
import { type CachedSegment, fp16BytesPerToken, segmentBytes } from '../cache/segment-kv';
import type { Engine } from '../engine/engine';
import { EMPTY_PAST } from '../engine/decoder-session';
import { generate } from '../engine/generate';
import {
  DEFAULT_INDENT_HANDLING,
  type IndentedCursor,
  type IndentHandling,
  indentedCursor,
} from '../engine/indented-cursor';
import { tokenCharSpans } from '../cache/token-offsets';
import { NO_CONTEXT, resolveConfig } from './configs';
import { contextGain, editSimilarity, exactMatch, klDivergence, mean, nllFromLogits } from './metrics';
import { type EvalTask, readTasks } from './task-file';

export interface EvalRunOptions {
  configs: string[];
  base: CacheConfig;
  localTokens: number;
  maxTasks?: number;
  /** How the greedy line is prompted at a cursor after indentation (the teacher-forced scores are not affected). */
  indent?: IndentHandling;
  progress?: (line: string) => void;
}

interface PerTask {
  nll: number;
  kl: number;
  exact: number;
  edit: number;
  identifier: number;
}

export interface EvalConfigResult {
  name: string;
  tasks: number;
  exactMatch: number;
  editSimilarity: number;
  nll: number;
  klDivergence: number;
  identifierExactMatch: number;
  contextGainRetained: number | null;
  bytesPerToken: number;
  compressionRatio: number;
  contextGain: number;
  contextGainCI: [number, number];
}

export interface EvalRunReport {
  tasks: number;
  contextGain: number;
  contextGainCI: [number, number];
  contextGainSignificant: boolean;
  note: string;
  configs: EvalConfigResult[];
  /** Every greedy line, per task and configuration: for paired comparisons between runs. */
  predictions: { id: string; config: string; line: string; exact: number; edit: number }[];
  /** Every task's NLL per configuration, in task order: for paired comparisons across runs (another budget, ...). */
  perTask: { id: string; nll: Record<string, number> }[];
}

/**
 * The greedy line a configuration predicts (stopped at the end of the line), prompted as a completion request is:
 * `cursor` backs an indented cursor up to its line start, constrains and trims the answer (`indentedCursor`).
 */
async function predictLine(
  ctx: QueryContext | null,
  engine: Engine,
  runtime: CacheRuntime,
  cursor: IndentedCursor,
  promptIds: number[],
  lineTokens: number,
) {
  const maxTokens = lineTokens + cursor.typedTokens;
  const options = {
    maxTokens,
    stopStrings: ['\n'],
    stopTokenIds: engine.stopTokenIds,
    constraint: cursor.constraint(),
  };
  const r = ctx
    ? await generateInContext(ctx, engine.tokenizer, promptIds, options)
    : await generate(
        engine.session,
        engine.tokenizer,
        promptIds,
        { ...options, firstPosition: runtime.sink.length },
        runtime.sink.clone(promptIds.length + maxTokens + 1),
      );
  return cursor.answer(r.text);
}

export async function evalRun(engine: Engine, tasksFile: string, opts: EvalRunOptions): Promise<EvalRunReport> {
  let tasks = await readTasks(tasksFile);
  if (opts.maxTasks) tasks = tasks.slice(0, opts.maxTasks);
  const byRepo = new Map<string, EvalTask[]>();
  for (const t of tasks) byRepo.set(t.repo, [...(byRepo.get(t.repo) ?? []), t]);
  const results = new Map<string, PerTask[]>(opts.configs.map((n) => [n, []]));
  const bytes = new Map<string, { bytes: number; tokens: number }>(
    opts.configs.map((n) => [n, { bytes: 0, tokens: 0 }]),
  );
  const vocab = engine.config.vocabSize;
  const predictions: EvalRunReport['predictions'] = [];
  let done = 0;
  const taskIds: string[] = [];
  for (const [repo, repoTasks] of byRepo) {
    const cache = await RepositoryCache.open({ root: repo, engine, config: opts.base, store: null });
    await cache.scan();
    const base = cache.runtime;
    const runtimes = new Map(
      opts.configs.map((name) => {
        const resolved = resolveConfig(name, opts.base);
        return [name, resolved ? { runtime: base.derive(resolved.config), overrides: resolved.overrides } : null];
      }),
    );
    const scored = new Map<string, ScoredSegment>();
    const compressed = new Map<string, CachedSegment>();
    try {
      for (const task of repoTasks) {
        opts.progress?.(`task ${++done}/${tasks.length}: ${task.file}:${task.line + 1}`);
        taskIds.push(task.id);
        const text = fs.readFileSync(`${repo}/${task.file}`, 'utf8');
        const before = text.slice(0, offsetOf(text, task.line, task.character));
        const localIds = engine.encode(base.fileHeader(task.file) + tailByTokens(engine, before, opts.localTokens));
        const cursor = indentedCursor(engine.tokenizer, before, opts.indent ?? DEFAULT_INDENT_HANDLING);
        const promptIds =
          cursor.prefix === before
            ? localIds
            : engine.encode(base.fileHeader(task.file) + tailByTokens(engine, cursor.prefix, opts.localTokens));
        const targetIds = engine.encode(task.groundTruth);
        const context = cache.contextFor(task.file, before, true);
        for (const entry of context) {
          if (scored.has(entry.key)) continue;
          // The same scoring input as the repository cache's own prefill, protected declaration names included.
          scored.set(
            entry.key,
            await base.score({
              path: entry.path,
              text: entry.text.slice(entry.bodyOffset),
              protectedRanges: entry.protectedRanges,
            }),
          );
        }
        const logitsByConfig = new Map<string, Float32Array>();
        const lines = new Map<string, string>();
        for (const [name, variant] of runtimes) {
          let ctx: QueryContext | null = null;
          if (variant) {
            const { runtime } = variant;
            const kvs: CachedSegment[] = [];
            for (const e of context) {
              const key = `${name}/${e.key}`;
              if (!compressed.has(key)) {
                compressed.set(key, await runtime.compress(scored.get(e.key)!, variant.overrides));
              }
              kvs.push(compressed.get(key)!);
            }
            const b = bytes.get(name)!;
            for (const kv of kvs) {
              b.bytes += segmentBytes(kv);
              b.tokens += kv.tokens;
            }
            ctx = await runtime.queryContext(kvs);
            logitsByConfig.set(name, await targetLogits(ctx, localIds, targetIds));
          } else {
            const ids = [...localIds, ...targetIds];
            const out = await engine.session.forward({
              ids,
              positions: ids.map((_, i) => base.sink.length + i),
              past: base.sink.length ? base.sink : EMPTY_PAST,
              logitIndex: targetIds.map((_, i) => localIds.length - 1 + i),
            });
            logitsByConfig.set(name, out.logits);
          }
          lines.set(name, await predictLine(ctx, engine, base, cursor, promptIds, targetIds.length + 8));
        }
        const full = logitsByConfig.get('full')!;
        const spans = tokenCharSpans(engine.tokenizer, targetIds);
        const idStart = task.identifierOffset ?? -1;
        const idEnd = idStart + (task.identifier?.length ?? 0);
        for (const [name, logits] of logitsByConfig) {
          let allIdentifierRight = 1;
          targetIds.forEach((id, t) => {
            const row = logits.subarray(t * vocab, (t + 1) * vocab);
            let best = 0;
            for (let v = 1; v < vocab; v++) if (row[v]! > row[best]!) best = v;
            const overlaps = spans[t]!.end > idStart && spans[t]!.start < idEnd;
            if (overlaps && best !== id) allIdentifierRight = 0;
          });
          const line = lines.get(name)!;
          const exact = exactMatch(line, task.groundTruth);
          const edit = editSimilarity(line, task.groundTruth);
          predictions.push({ id: task.id, config: name, line, exact, edit });
          results.get(name)!.push({
            nll: mean(nllFromLogits(logits, vocab, targetIds)),
            kl: mean(klDivergence(full, logits, vocab, targetIds.length)),
            exact,
            edit,
            identifier: idStart >= 0 ? allIdentifierRight : 0,
          });
        }
      }
    } finally {
      await cache.dispose();
    }
  }
  const fp16 = fp16BytesPerToken(engine.config.numLayers, engine.config.numKvHeads, engine.config.headDim);
  const none = results.get(NO_CONTEXT);
  const fullNll = results.get('full')!.map((r) => r.nll);
  const gain = none
    ? contextGain(
        none.map((r) => r.nll),
        fullNll,
        { seed: 1 },
      )
    : null;
  const configs = opts.configs.map((name): EvalConfigResult => {
    const r = results.get(name)!;
    const b = bytes.get(name)!;
    const nll = mean(r.map((x) => x.nll));
    const bytesPerToken = b.tokens ? b.bytes / b.tokens : 0;
    return {
      name,
      tasks: r.length,
      exactMatch: mean(r.map((x) => x.exact)),
      editSimilarity: mean(r.map((x) => x.edit)),
      nll,
      klDivergence: mean(r.map((x) => x.kl)),
      identifierExactMatch: mean(r.map((x) => x.identifier)),
      contextGainRetained: gain && none ? (mean(none.map((x) => x.nll)) - nll) / gain.gain : null,
      bytesPerToken,
      compressionRatio: bytesPerToken ? fp16 / bytesPerToken : 0,
      contextGain: gain?.gain ?? NaN,
      contextGainCI: gain?.ci ?? [NaN, NaN],
    };
  });
  const note = !gain
    ? 'no-context was not run: context gain unknown'
    : gain.significant
      ? `context gain ${gain.gain.toFixed(4)} nats is significant (95% CI ${gain.ci.map((v) => v.toFixed(4)).join('..')})`
      : `context gain ${gain.gain.toFixed(4)} nats is NOT significant (95% CI ${gain.ci.map((v) => v.toFixed(4)).join('..')} includes 0): context gain retained means nothing here; read KL divergence vs full and the long-file fidelity instead`;
  return {
    tasks: tasks.length,
    contextGain: gain?.gain ?? NaN,
    contextGainCI: gain?.ci ?? [NaN, NaN],
    contextGainSignificant: gain?.significant ?? false,
    note,
    configs,
    predictions,
    perTask: taskIds.map((id, i) => ({
      id,
      nll: Object.fromEntries(opts.configs.map((name) => [name, results.get(name)![i]!.nll])),
    })),
  };
}
