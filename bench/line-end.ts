/**
 * `node dist/bench.js line-end TASKS.jsonl...`: completions at the end of a line, through `RepositoryCache.complete`
 * (the CLI's and the sidecar's path), with each `--line-end` handling on the same cursors.
 *
 * The cursors are derived from development tasks (whose cursor stands at the line's indentation): the text is cut
 * after the line's first token (`return`, `const`, `self`, ...) and the rest of the line is removed from the file,
 * as while typing; the ground truth is the removed rest. With `--complete-lines` the cursor stands instead at the
 * end of the task's whole line when that line ends in a character after which a line may end (`;`, `}`, `)`, ...):
 * no ground truth there, only what the model does (ends the line, or appends to a finished one).
 * Scored on the answer's first line, like `eval run`'s greedy line.
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { RepositoryCache } from '../src/cache/repository-cache';
import { cacheConfigFromFlags } from '../src/cli/cache-flags';
import { Engine } from '../src/engine/engine';
import { type LineEndHandling, parseLineEndHandling } from '../src/engine/line-end-cursor';
import { bootstrapCI, editSimilarity, exactMatch, mean } from '../src/eval/metrics';
import { readTasks } from '../src/eval/task-file';
import { modelOption } from './common-options';

export interface LineEndPrediction {
  id: string;
  config: 'no-context' | 'full';
  handling: LineEndHandling;
  answer: string;
  exact: number;
  edit: number;
  empty: boolean;
  startsWithBreak: boolean;
}

const MAY_END_LINE = /[;{}:,)\]]$/;

/** The derived cursor on a task's line: its character and the ground truth, or null when the line has none. */
export function lineEndCursor(line: string, complete: boolean): { character: number; truth: string } | null {
  if (complete) {
    const body = line.trimEnd();
    return body.trim() !== '' && MAY_END_LINE.test(body) ? { character: body.length, truth: '' } : null;
  }
  const m = /^[ \t]*(?:[A-Za-z_$][\w$]*|\S)/.exec(line);
  if (!m || MAY_END_LINE.test(m[0])) return null;
  const truth = line.slice(m[0].length);
  return truth.trim() === '' ? null : { character: m[0].length, truth };
}

export async function benchLineEnd(
  taskFiles: string[],
  opts: { model?: string; maxTasks: number; handlings: LineEndHandling[]; complete: boolean },
  progress: (line: string) => void,
): Promise<LineEndPrediction[]> {
  const engine = await Engine.load({ modelDir: opts.model, provider: 'cpu' });
  const out: LineEndPrediction[] = [];
  try {
    for (const file of taskFiles) {
      const tasks = await readTasks(file);
      const cache = await RepositoryCache.open({
        root: tasks[0]!.repo,
        engine,
        config: cacheConfigFromFlags({}), // the CLI's `complete` without flags
        store: null,
      });
      await cache.scan();
      let used = 0;
      for (const task of tasks) {
        if (used >= opts.maxTasks) break;
        const text = fs.readFileSync(`${task.repo}/${task.file}`, 'utf8');
        const lines = text.split('\n');
        const cursor = lineEndCursor(lines[task.line]!, opts.complete);
        if (!cursor) continue;
        used++;
        lines[task.line] = lines[task.line]!.slice(0, cursor.character);
        const derived = lines.join('\n');
        const before = lines.slice(0, task.line + 1).join('\n');
        // The repository segments this cursor selects, prefilled once (the CLI would prefill the whole repository).
        for (const e of cache.contextFor(task.file, before, true)) if (!e.kv && !e.spilled) await cache.fill(e);
        const maxTokens = engine.encode(cursor.truth).length + 8;
        for (const config of ['no-context', 'full'] as const) {
          for (const handling of opts.handlings) {
            const r = await cache.complete({
              path: task.file,
              text: derived,
              line: task.line,
              character: cursor.character,
              maxTokens: opts.complete ? 16 : maxTokens,
              useRepository: config === 'full',
              lineEnd: handling,
            });
            const first = r.text.split('\n')[0]!;
            out.push({
              id: `${file}#${task.id}`,
              config,
              handling,
              answer: r.text,
              exact: exactMatch(first, cursor.truth),
              edit: editSimilarity(first, cursor.truth),
              empty: r.text.trim() === '',
              startsWithBreak: /^[ \t]*\r?\n/.test(r.text),
            });
          }
        }
        progress(`${file}: ${used}/${opts.maxTasks} ${task.id}`);
      }
      await cache.dispose();
    }
  } finally {
    await engine.dispose();
  }
  return out;
}

const f3 = (n: number) => (n >= 0 ? '+' : '−') + Math.abs(n).toFixed(3);

/** Markdown rows: rates per configuration and handling, and paired edit-similarity differences against `off`. */
export function lineEndTable(preds: LineEndPrediction[], handlings: LineEndHandling[]): string[] {
  const rows = [
    '| handling | config | tasks | exact match | edit similarity | empty | starts with a line break | Δ edit vs off [95% CI] |',
    '|---|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const handling of handlings) {
    for (const config of ['no-context', 'full'] as const) {
      const p = preds.filter((x) => x.handling === handling && x.config === config);
      const off = new Map(
        preds.filter((x) => x.handling === 'off' && x.config === config).map((x) => [x.id, x.edit] as const),
      );
      const diffs = p.filter((x) => off.has(x.id)).map((x) => x.edit - off.get(x.id)!);
      const ci = diffs.length > 1 ? bootstrapCI(diffs, { seed: 1, resamples: 10000 }) : [NaN, NaN];
      const delta = handling === 'off' ? '–' : `${f3(mean(diffs))} [${f3(ci[0]!)}, ${f3(ci[1]!)}]`;
      const rate = (k: 'empty' | 'startsWithBreak') => mean(p.map((x) => (x[k] ? 1 : 0))).toFixed(2);
      rows.push(
        `| ${handling} | ${config} | ${p.length} | ${mean(p.map((x) => x.exact)).toFixed(3)} | ` +
          `${mean(p.map((x) => x.edit)).toFixed(3)} | ${rate('empty')} | ${rate('startsWithBreak')} | ${delta} |`,
      );
    }
  }
  return rows;
}

export function registerLineEndCommand(program: Command): void {
  program
    .command('line-end <tasks...>')
    .description('completions at the end of a line (cut after its first token), per --line-end handling')
    .addOption(modelOption())
    .option('--max-tasks <n>', 'cursors per tasks file', '30')
    .option('--handlings <list>', 'line-end handlings compared', 'off,continue,left-to-right')
    .option('--complete-lines', 'cursor at the end of whole lines ending in ; } ) ... instead')
    .option('--json <file>', 'write every prediction to this file')
    .action(
      async (
        taskFiles: string[],
        opts: { model?: string; maxTasks: string; handlings: string; completeLines?: boolean; json?: string },
      ) => {
        const handlings = opts.handlings.split(',').map((h) => parseLineEndHandling(h.trim()));
        if (!handlings.includes('off')) handlings.unshift('off');
        const preds = await benchLineEnd(
          taskFiles,
          { model: opts.model, maxTasks: Number(opts.maxTasks), handlings, complete: !!opts.completeLines },
          (l) => console.error(l),
        );
        if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(preds, null, 1));
        console.log(lineEndTable(preds, handlings).join('\n'));
      },
    );
}
