/**
 * `bench frontier` over `repokv eval long-file --json` reports (one per repository): the repositories are pooled
 * file by file, so a repository with six files weighs twice one with three. The share of the far-context gain
 * kept is computed as `eval long-file` computes it for one repository, on the pooled mean NLLs:
 * (NLL no-context − NLL config) ÷ (NLL no-context − NLL full). KL is the file-weighted mean; the ratio is fp16
 * bytes per token over the pooled bytes per token (every file has the same head length, so file weights are
 * token weights).
 */
import type { FrontierPoint } from './svg';

export interface LongFileConfigJson {
  name: string;
  files: number;
  nll: number;
  klDivergence: number;
  bytesPerToken: number;
  compressionRatio: number;
}

export interface LongFileJson {
  repo: string;
  prefixTokens: number;
  configs: LongFileConfigJson[];
}

/** True for the JSON of `repokv eval long-file --json`. */
export function isLongFileJson(report: unknown): report is LongFileJson {
  const r = report as Partial<LongFileJson> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.prefixTokens === 'number' &&
    Array.isArray(r.configs) &&
    r.configs.every((c) => typeof c.nll === 'number' && typeof c.files === 'number')
  );
}

interface Pooled {
  files: number;
  nll: number;
  kl: number;
  bytes: number;
  fp16: number;
}

/** One point per configuration except `no-context` (`full` lands at kept 1 by construction). */
export function longFilePoints(reports: LongFileJson[]): FrontierPoint[] {
  if (reports.length === 0) throw new Error('frontier: no long-file reports');
  const heads = new Set(reports.map((r) => r.prefixTokens));
  if (heads.size > 1) throw new Error(`frontier: long-file reports mix head lengths ${[...heads].join(', ')}`);
  // Several runs over one repository (more configurations on the same files) give each configuration once per
  // repository: a configuration measured twice there keeps its last report (the runs are deterministic).
  const byRepo = new Map<string, Map<string, LongFileConfigJson>>();
  for (const report of reports) {
    const configs = byRepo.get(report.repo) ?? new Map<string, LongFileConfigJson>();
    for (const c of report.configs) configs.set(c.name, c);
    byRepo.set(report.repo, configs);
  }
  const pooled = new Map<string, Pooled>();
  for (const configs of byRepo.values()) {
    for (const c of configs.values()) {
      const p = pooled.get(c.name) ?? { files: 0, nll: 0, kl: 0, bytes: 0, fp16: 0 };
      p.files += c.files;
      p.nll += c.nll * c.files;
      p.kl += c.klDivergence * c.files;
      p.bytes += c.bytesPerToken * c.files;
      // compressionRatio × bytesPerToken is the model's fp16 bytes per token, the same for every config.
      if (c.compressionRatio > 0) p.fp16 = c.compressionRatio * c.bytesPerToken;
      pooled.set(c.name, p);
    }
  }
  const filesOf = (name: string) => {
    const p = pooled.get(name);
    if (!p) throw new Error(`frontier: long-file reports lack the '${name}' configuration`);
    return p;
  };
  const none = filesOf('no-context');
  const full = filesOf('full');
  const counts = new Set([...pooled.values()].map((p) => p.files));
  if (counts.size > 1) throw new Error('frontier: configurations cover different files across the reports');
  const noneNll = none.nll / none.files;
  const gain = noneNll - full.nll / full.files;
  const points: FrontierPoint[] = [];
  for (const [name, p] of pooled) {
    if (name === 'no-context' || p.bytes === 0) continue;
    points.push({
      name,
      ratio: p.fp16 / (p.bytes / p.files),
      kept: (noneNll - p.nll / p.files) / gain,
      kl: p.kl / p.files,
    });
  }
  return points;
}
