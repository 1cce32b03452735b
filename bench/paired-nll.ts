/**
 * `node dist/bench.js paired-nll A.json B.json`: two `eval run --json` reports on the same tasks (another budget,
 * another local context, ...) compared task by task: mean NLL of A minus NLL of B for one configuration, with the
 * same bootstrap interval as the context gain. Positive = B is better.
 */
import * as fs from 'node:fs';
import { contextGain } from '../src/eval/metrics';
import type { EvalRunReport } from '../src/eval/run';

function perTask(file: string, config: string): Map<string, number> {
  const report = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<EvalRunReport>;
  if (!Array.isArray(report.perTask)) throw new Error(`${file} has no perTask field: rerun eval run with --json`);
  const out = new Map<string, number>();
  for (const t of report.perTask) {
    const v = t.nll[config];
    if (v === undefined) throw new Error(`${file} has no configuration ${config}`);
    out.set(t.id, v);
  }
  return out;
}

export function pairedNll(fileA: string, configA: string, fileB: string, configB: string) {
  const a = perTask(fileA, configA);
  const b = perTask(fileB, configB);
  const ids = [...a.keys()].filter((id) => b.has(id));
  if (ids.length < 2) throw new Error(`${fileA} and ${fileB} share ${ids.length} tasks: nothing to pair`);
  const g = contextGain(
    ids.map((id) => a.get(id)!),
    ids.map((id) => b.get(id)!),
    { seed: 1 },
  );
  return { tasks: ids.length, difference: g.gain, ci: g.ci, significant: g.significant };
}
