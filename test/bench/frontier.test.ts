/**
 * The frontier plot (bench/frontier): the Pareto set is what no other point beats on both axes, the SVG holds
 * every point and target and escapes names, and results that are not eval JSON are refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { frontierPoints } from '../../bench/frontier';
import { type FrontierPoint, frontierSvg, ISSUE_TARGETS, paretoFrontier } from '../../bench/frontier/svg';

const p = (name: string, ratio: number, kept: number): FrontierPoint => ({ name, ratio, kept, kl: 0.01 });

describe('frontier', () => {
  it('keeps exactly the points no other point dominates, ordered by ratio', () => {
    const points = [p('a', 5, 0.9), p('b', 10, 0.8), p('c', 9, 0.7), p('d', 5, 0.95), p('e', 18, 0.2)];
    expect(paretoFrontier(points).map((x) => x.name)).toEqual(['d', 'b', 'e']);
  });

  it('draws every point and target, escaping names', () => {
    const svg = frontierSvg([p('q2<&>', 5.4, 0.9), p('full', 0.5, 1)], 'title');
    expect(svg).toContain('q2&lt;&amp;&gt;');
    expect(svg.match(/<circle /g)).toHaveLength(2);
    for (const t of ISSUE_TARGETS) expect(svg).toContain(t.label);
    expect(() => frontierSvg([], 'empty')).toThrow(/no points/);
  });

  it('reads eval JSON, skipping no-context, and refuses other JSON', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-frontier-'));
    const good = path.join(dir, 'good.json');
    const config = (name: string, compressionRatio: number, contextGainRetained: number | null) => ({
      name,
      compressionRatio,
      contextGainRetained,
      klDivergence: 0.02,
    });
    fs.writeFileSync(good, JSON.stringify({ configs: [config('no-context', 0, 0), config('q2', 5.4, 0.9)] }));
    expect(frontierPoints([good])).toEqual([{ name: 'q2', ratio: 5.4, kept: 0.9, kl: 0.02 }]);
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ tasks: 3 }));
    expect(() => frontierPoints([bad])).toThrow(/not the JSON of repokv eval run/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
