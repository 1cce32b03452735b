/**
 * The frontier plot of issue 10, written as plain SVG (no plotting dependency): compression ratio vs fp16 on x,
 * share of the context gain kept on y, one labelled point per configuration, the targets drawn as corners
 * (a target is met by a point up and to the right of its corner), and the points on the Pareto frontier joined.
 */

export interface FrontierPoint {
  name: string;
  ratio: number;
  kept: number;
  kl: number;
}

export interface Target {
  label: string;
  ratio: number;
  kept: number;
}

export const ISSUE_TARGETS: Target[] = [
  { label: 'q2 ≥ 0.97 at ≥ 5×', ratio: 5, kept: 0.97 },
  { label: 'q2-evict50 ≥ 0.95 at ≥ 10×', ratio: 10, kept: 0.95 },
  { label: 'q2-evict25 ≥ 0.90 at ≥ 18×', ratio: 18, kept: 0.9 },
];

const W = 900;
const H = 560;
const M = { left: 70, right: 30, top: 40, bottom: 60 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Points no other point beats on both axes (higher ratio and more gain kept), by ratio. */
export function paretoFrontier(points: FrontierPoint[]): FrontierPoint[] {
  return points
    .filter(
      (p) =>
        !points.some(
          (q) => q !== p && q.ratio >= p.ratio && q.kept >= p.kept && (q.ratio > p.ratio || q.kept > p.kept),
        ),
    )
    .sort((a, b) => a.ratio - b.ratio);
}

export function frontierSvg(points: FrontierPoint[], title: string, targets: Target[] = ISSUE_TARGETS): string {
  if (points.length === 0) throw new Error('frontier: no points to draw');
  const xMax = Math.max(20, ...points.map((p) => p.ratio)) * 1.05;
  const yMin = Math.min(0, ...points.map((p) => p.kept));
  const yMax = Math.max(1.1, ...points.map((p) => p.kept));
  const x = (r: number) => M.left + (r / xMax) * (W - M.left - M.right);
  const y = (k: number) => H - M.bottom - ((k - yMin) / (yMax - yMin)) * (H - M.top - M.bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  for (let r = 0; r <= xMax; r += 2) {
    out.push(`<line x1="${x(r)}" y1="${y(yMin)}" x2="${x(r)}" y2="${y(yMax)}" stroke="#eee"/>`);
    out.push(`<text x="${x(r)}" y="${H - M.bottom + 16}" text-anchor="middle">${r}×</text>`);
  }
  for (let k = Math.ceil(yMin * 10) / 10; k <= yMax + 1e-9; k += 0.1) {
    out.push(`<line x1="${x(0)}" y1="${y(k)}" x2="${x(xMax)}" y2="${y(k)}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 6}" y="${y(k) + 4}" text-anchor="end">${k.toFixed(1)}</text>`);
  }
  out.push(`<text x="${W / 2}" y="${H - 18}" text-anchor="middle">compression vs fp16</text>`);
  out.push(
    `<text x="18" y="${H / 2}" text-anchor="middle" transform="rotate(-90 18 ${H / 2})">share of the context gain kept</text>`,
  );
  for (const t of targets) {
    const tx = x(t.ratio);
    const ty = y(t.kept);
    out.push(
      `<path d="M${tx} ${y(yMax)} L${tx} ${ty} L${x(xMax)} ${ty}" fill="none" stroke="#c33" stroke-dasharray="5 3"/>`,
    );
    out.push(`<text x="${tx + 4}" y="${ty - 4}" fill="#c33">${esc(t.label)}</text>`);
  }
  const front = paretoFrontier(points);
  out.push(
    `<polyline points="${front.map((p) => `${x(p.ratio)},${y(p.kept)}`).join(' ')}" fill="none" stroke="#36c" stroke-width="1.5"/>`,
  );
  for (const p of points) {
    const onFront = front.includes(p);
    out.push(`<circle cx="${x(p.ratio)}" cy="${y(p.kept)}" r="4" fill="${onFront ? '#36c' : '#999'}"/>`);
    out.push(`<text x="${x(p.ratio) + 6}" y="${y(p.kept) + 4}">${esc(p.name)} (KL ${p.kl.toFixed(3)})</text>`);
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
