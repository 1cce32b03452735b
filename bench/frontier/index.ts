/**
 * `bench kv-outliers` and `bench frontier` (issue 10): the statistics behind the 2-bit loss, and the frontier
 * plot drawn from saved `repokv eval run --json` results.
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { Engine } from '../../src/engine/engine';
import { isLongFileJson, type LongFileJson, longFilePoints } from './long-file';
import { kvOutliers, outlierTable } from './outliers';
import { type FrontierPoint, frontierSvg, paretoFrontier } from './svg';

interface EvalJson {
  configs: { name: string; compressionRatio: number; contextGainRetained: number | null; klDivergence: number }[];
}

/**
 * Points of every configuration with a ratio (not `no-context`), from one or more eval JSON files: either all
 * `eval run` reports (a name seen twice keeps its last values) or all `eval long-file` reports (pooled by file).
 */
export function frontierPoints(files: string[]): FrontierPoint[] {
  const reports = files.map((file) => ({ file, report: JSON.parse(fs.readFileSync(file, 'utf8')) as unknown }));
  const longFile = reports.filter((r) => isLongFileJson(r.report));
  if (longFile.length === reports.length && reports.length > 0) {
    return longFilePoints(longFile.map((r) => r.report as LongFileJson));
  }
  if (longFile.length > 0) throw new Error(`${longFile[0]!.file}: eval long-file and eval run results cannot be mixed`);
  const points = new Map<string, FrontierPoint>();
  for (const { file, report: raw } of reports) {
    const report = raw as EvalJson;
    if (!Array.isArray(report.configs)) throw new Error(`${file}: not the JSON of repokv eval run --json`);
    for (const c of report.configs) {
      if (c.name === 'no-context' || c.contextGainRetained === null || !(c.compressionRatio > 0)) continue;
      points.set(c.name, { name: c.name, ratio: c.compressionRatio, kept: c.contextGainRetained, kl: c.klDivergence });
    }
  }
  return [...points.values()];
}

export function registerFrontierCommands(program: Command): void {
  program
    .command('kv-outliers <repos...>')
    .description('per-layer channel and token outlier ratios of the keys and values a repository cache quantizes')
    .option('--model <dir>', 'checkpoint (default: bundled tiny-coder)')
    .option('--files <n>', 'files sampled per repository', '4')
    .action(async (repos: string[], opts: { model?: string; files: string }) => {
      const engine = await Engine.load({ modelDir: opts.model, provider: 'cpu' });
      try {
        console.log(outlierTable(await kvOutliers(engine, repos, Number(opts.files))));
      } finally {
        await engine.dispose();
      }
    });
  program
    .command('frontier <results...>')
    .description(
      'draw compression vs share of gain kept (SVG) from repokv eval run --json or eval long-file --json results',
    )
    .requiredOption('--out <file>', 'SVG to write')
    .option(
      '--title <text>',
      'plot title',
      'coder-15m, development tasks: compression vs share of the context gain kept',
    )
    .action((results: string[], opts: { out: string; title: string }) => {
      const points = frontierPoints(results);
      fs.writeFileSync(opts.out, frontierSvg(points, opts.title));
      const front = paretoFrontier(points);
      console.log(
        `${points.length} configurations drawn to ${opts.out}; on the frontier: ${front.map((p) => p.name).join(', ')}`,
      );
      console.log('| config | vs fp16 | KL | gain kept |\n|---|---:|---:|---:|');
      for (const p of points) {
        console.log(`| ${p.name} | ${p.ratio.toFixed(2)}× | ${p.kl.toFixed(4)} | ${p.kept.toFixed(2)} |`);
      }
    });
}
