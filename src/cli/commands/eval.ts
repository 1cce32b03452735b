/** `repokv eval long-file` (and, with the task tools, `make-tasks` and `run`): the compression instrument. */
import type { Command } from 'commander';
import * as path from 'node:path';
import { CacheRuntime } from '../../cache/runtime';
import { parseConfigList } from '../../eval/configs';
import { evalLongFile } from '../../eval/long-file';
import { addCacheFlags, type CacheFlagValues, cacheConfigFromFlags } from '../cache-flags';
import { addCommonOptions, type CommonOptions, loadEngine, parseNumber } from '../common-options';
import { printResult, progress } from '../output';

interface LongFileCliOptions extends CommonOptions, CacheFlagValues {
  configs?: string;
  prefixTokens: number;
  targetTokens: number;
  localTokens: number;
  maxFiles: number;
}

export function registerEval(program: Command): void {
  const evalCmd = program.command('eval').description('measure what cache compression costs');
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
