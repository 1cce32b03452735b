import { describe, expect, it } from 'vitest';
import { byFolder, statsPage, topBars } from '../../src/extension/stats-charts';
import { FAKE_STATS } from '../sidecar/fake-service';

describe('statsPage', () => {
  it('summarises the cache and charts memory, per-layer budgets and errors, and lookups', () => {
    const page = statsPage(FAKE_STATS);
    const summary = Object.fromEntries(page.summary.map((s) => [s.label, s.value]));
    expect(summary).toMatchObject({
      Files: '3',
      'Kept tokens': '600 (50%)',
      'Compression vs fp16': '9.6×',
      'Hit rate': '71% of 7',
      'Prefill throughput': '900 tokens/s',
      'Execution provider': 'cpu',
    });
    const chart = (title: string) => page.charts.find((c) => c.title === title)!;
    expect(chart('Memory per folder').bars.map((b) => b.label)).toEqual(['src/', '(root)']);
    expect(chart('Kept ratio per layer')).toMatchObject({
      max: 1,
      bars: [{ label: 'layer 0', value: 0.6, display: '60%' }, { display: '40%' }],
    });
    expect(chart('Key bits per layer').bars.map((b) => b.display)).toEqual(['4 bits', '2 bits']);
    expect(chart('Value quantization error per layer').bars.map((b) => b.display)).toEqual(['0.080', '0.070']);
    expect(chart('Segment lookups').bars.map((b) => b.value)).toEqual([5, 2]);
    expect(page.skipped).toEqual([{ path: '.env', reason: 'secret' }]);
  });

  it('keeps the largest entries and sums the rest into one bar', () => {
    const values = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}.ts`, i + 1]));
    const bars = topBars(values, String, 3);
    expect(bars.map((b) => [b.label, b.value])).toEqual([
      ['f19.ts', 20],
      ['f18.ts', 19],
      ['f17.ts', 18],
      ['17 others', 153],
    ]);
    expect(byFolder({ 'a/x.ts': 1, 'a/b/y.ts': 2, 'z.ts': 4 })).toEqual({ 'a/': 3, '(root)': 4 });
  });
});
