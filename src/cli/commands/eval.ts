/** `repokv eval long-file` (and, with the task tools, `make-tasks` and `run`): the compression instrument. */
import type { Command } from 'commander';
import * as path from 'node:path';
import { DEFAULT_LOCAL_BUDGET } from '../../cache/prompts';
import { CacheRuntime } from '../../cache/runtime';
import { parseConfigList } from '../../eval/configs';
import { evalLongFile } from '../../eval/long-file';
import { makeTasks } from '../../eval/make-tasks';
import { evalRun } from '../../eval/run';
import { writeTasks } from '../../eval/task-file';
import { addCacheFlags, type CacheFlagValues, cacheConfigFromFlags } from '../cache-flags';
import type { IndentHandling } from '../../engine/indented-cursor';
import {
  addCommonOptions,
  type CommonOptions,
  INDENT_HELP,
  loadEngine,
  parseIndent,
  parseNumber,
} from '../common-options';
import { printResult, progress } from '../output';

interface LongFileCliOptions extends CommonOptions, CacheFlagValues {
  configs?: string;
  prefixTokens: number;
  targetTokens: number;
  localTokens: number;
  maxFiles: number;
}

interface RunCliOptions extends CommonOptions, CacheFlagValues {
  configs?: string;
  localTokens: number;
  maxTasks?: number;
  indent?: IndentHandling;
}

export function registerEval(program: Command): void {
  const evalCmd = program.command('eval').description('measure what cache compression costs');
  evalCmd
    .command('make-tasks <repo>')
    .description('cross-file next-line tasks from a repository (JSONL)')
    .requiredOption('--out <file>', 'tasks file to write')
    .option('--count <n>', 'tasks', parseNumber('--count', true, 1), 200)
    .option('--seed <n>', 'sampling seed', parseNumber('--seed', true, 0), 1)
    .option('--json', 'print a JSON summary')
    .action(async (repo: string, opts: { out: string; count: number; seed: number; json?: boolean }) => {
      const tasks = await makeTasks(path.resolve(repo), { count: opts.count, seed: opts.seed });
      await writeTasks(opts.out, tasks);
      printResult(!!opts.json, { tasks: tasks.length, out: opts.out }, `${tasks.length} tasks written to ${opts.out}`);
    });

  addCacheFlags(
    addCommonOptions(
      evalCmd
        .command('run <tasks>')
        .description('every named cache configuration on repository tasks')
        .option('--configs <list>', 'comma-separated configuration names')
        .option(
          '--local-tokens <n>',
          'tokens of the current file before the cursor',
          parseNumber('--local-tokens', true, 1),
          DEFAULT_LOCAL_BUDGET.prefixTokens,
        )
        .option('--max-tasks <n>', 'evaluate only the first N tasks', parseNumber('--max-tasks', true, 1))
        .option('--indent <mode>', INDENT_HELP, parseIndent),
    ),
  ).action(async (tasks: string, opts: RunCliOptions) => {
    const engine = await loadEngine(opts);
    try {
      const report = await evalRun(engine, tasks, {
        configs: parseConfigList(opts.configs),
        base: cacheConfigFromFlags(opts),
        localTokens: opts.localTokens,
        maxTasks: opts.maxTasks,
        indent: opts.indent,
        progress,
      });
      progress(report.note);
      const lines = [
        `${report.tasks} tasks; ${report.note}`,
        ...report.configs.map(
          (c) =>
            `${c.name.padEnd(12)} EM ${c.exactMatch.toFixed(3)}  ES ${c.editSimilarity.toFixed(3)}  nll ${c.nll.toFixed(4)}  ` +
            `KL ${c.klDivergence.toFixed(4)}  idEM ${c.identifierExactMatch.toFixed(3)}  ratio ${c.compressionRatio.toFixed(1)}x  ` +
            `retained ${c.contextGainRetained === null ? '-' : c.contextGainRetained.toFixed(3)}`,
        ),
      ];
      printResult(!!opts.json, report, lines.join('\n'));
    } finally {
      await engine.dispose();
    }
  });
  addCacheFlags(
    addCommonOptions(
      evalCmd
        .command('long-file <repo>')
        .description("NLL and KL of long files' later tokens with the earlier part in the compressed cache vs in full")
        .option('--configs <list>', 'comma-separated configuration names')
        .option('--prefix-tokens <n>', 'tokens before the target', parseNumber('--prefix-tokens', true, 2), 768)
        .option('--target-tokens <n>', 'tokens scored', parseNumber('--target-tokens', true, 1), 256)
        .option(
          '--local-tokens <n>',
          'last prefix tokens kept as full-precision local context',
          parseNumber('--local-tokens', true, 1),
          32,
        )
        .option('--max-files <n>', 'files evaluated at most', parseNumber('--max-files', true, 1), 40),
    ),
  ).action(async (repo: string, opts: LongFileCliOptions) => {
    const base = cacheConfigFromFlags(opts);
    const engine = await loadEngine(opts);
    const runtime = await CacheRuntime.create(
      engine,
      base,
      path.basename(path.resolve(repo)),
      opts.verbose ? progress : undefined,
    );
    try {
      const report = await evalLongFile(engine, runtime, path.resolve(repo), {
        configs: parseConfigList(opts.configs),
        prefixTokens: opts.prefixTokens,
        targetTokens: opts.targetTokens,
        localTokens: opts.localTokens,
        maxFiles: opts.maxFiles,
        base,
        progress,
      });
      const lines = [
        `${report.repo}: ${report.configs[0]?.files} files, far-context gain ${report.farContextGain.toFixed(4)} nats ` +
          `(95% CI ${report.farContextGainCI.map((v) => v.toFixed(4)).join('..')})`,
        ...report.configs.map(
          (c) =>
            `${c.name.padEnd(12)} nll ${c.nll.toFixed(4)}  KL ${c.klDivergence.toFixed(4)}  ` +
            `ratio ${c.compressionRatio.toFixed(1)}x  kept ${(100 * c.keptRatio).toFixed(0)}%  ` +
            `retained ${c.farContextGainRetained === null ? '-' : c.farContextGainRetained.toFixed(3)}`,
        ),
      ];
      printResult(!!opts.json, report, lines.join('\n'));
    } finally {
      await runtime.dispose();
      await engine.dispose();
    }
  });
}
