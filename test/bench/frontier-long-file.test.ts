/**
 * The long-file frontier input (bench/frontier/long-file): repositories pooled file by file, the share of the
 * gain kept computed on the pooled NLLs (one report alone reproduces `eval long-file`'s own share), and reports
 * that cannot be pooled are refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { frontierPoints } from '../../bench/frontier';
import { isLongFileJson, type LongFileJson, longFilePoints } from '../../bench/frontier/long-file';

const FP16 = 4096;
const cfg = (name: string, files: number, nll: number, kl: number, bytesPerToken: number) => ({
  name,
  files,
  nll,
  klDivergence: kl,
  bytesPerToken,
  compressionRatio: bytesPerToken ? FP16 / bytesPerToken : 0,
});
const report = (repo: string, files: number, q2Nll: number, q2Bytes: number, prefixTokens = 3000): LongFileJson => ({
  repo,
  prefixTokens,
  configs: [
    cfg('no-context', files, 3, 0.4, 0),
    cfg('full', files, 2, 0, 8192),
    cfg('q2', files, q2Nll, 0.1 * files, q2Bytes),
  ],
});

describe('long-file frontier points', () => {
  it('reproduces one report’s share of the far-context gain', () => {
    const [full, q2] = longFilePoints([report('a', 3, 2.25, 800)]);
    expect(full).toMatchObject({ name: 'full', ratio: 0.5, kept: 1, kl: 0 });
    expect(q2!.kept).toBeCloseTo(0.75, 12);
    expect(q2!.ratio).toBeCloseTo(FP16 / 800, 12);
  });

  it('pools repositories by file count', () => {
    // 1 file at NLL 2.5 and 3 files at NLL 2.1: pooled NLL 2.2, gain 1, kept 0.8; bytes (1·1000 + 3·600)/4 = 700.
    const [, q2] = longFilePoints([report('a', 1, 2.5, 1000), report('b', 3, 2.1, 600)]);
    expect(q2!.kept).toBeCloseTo(0.8, 12);
    expect(q2!.ratio).toBeCloseTo(FP16 / 700, 12);
    expect(q2!.kl).toBeCloseTo((0.1 * 1 + 0.3 * 3) / 4, 12);
  });

  it('counts a configuration measured twice on one repository once', () => {
    const withQ4 = (r: LongFileJson, nll: number) => ({
      ...r,
      configs: [...r.configs, cfg('q4', r.configs[0]!.files, nll, 0, 1500)],
    });
    const reports = [report('a', 1, 2.5, 1000), report('b', 3, 2.1, 600)];
    const points = longFilePoints([...reports, withQ4(reports[0]!, 2.2), withQ4(reports[1]!, 2.2)]);
    expect(points.find((p) => p.name === 'q2')!.kept).toBeCloseTo(0.8, 12);
    expect(points.find((p) => p.name === 'q4')!.kept).toBeCloseTo(0.8, 12);
    // Measured on one repository only: refused rather than pooled over fewer files.
    expect(() => longFilePoints([...reports, withQ4(reports[1]!, 2.2)])).toThrow(/different files/);
  });

  it('refuses reports that cannot be pooled', () => {
    expect(() => longFilePoints([report('a', 1, 2.5, 1000), report('b', 1, 2.5, 1000, 768)])).toThrow(/head lengths/);
    const noBaseline = report('a', 1, 2.5, 1000);
    noBaseline.configs = noBaseline.configs.filter((c) => c.name !== 'no-context');
    expect(() => longFilePoints([noBaseline])).toThrow(/lack the 'no-context'/);
    const uneven = report('a', 2, 2.5, 1000);
    uneven.configs[2]!.files = 1;
    expect(() => longFilePoints([uneven])).toThrow(/different files/);
    expect(isLongFileJson({ configs: [] })).toBe(false);
  });

  it('frontierPoints reads long-file JSON and refuses a mix with eval run JSON', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-frontier-lf-'));
    const lf = path.join(dir, 'lf.json');
    fs.writeFileSync(lf, JSON.stringify(report('a', 2, 2.5, 1000)));
    expect(frontierPoints([lf]).map((p) => p.name)).toEqual(['full', 'q2']);
    const run = path.join(dir, 'run.json');
    fs.writeFileSync(run, JSON.stringify({ configs: [{ name: 'q2', compressionRatio: 5, contextGainRetained: 0.9 }] }));
    expect(() => frontierPoints([run, lf])).toThrow(/cannot be mixed/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
