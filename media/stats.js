// RepoKV cache statistics webview. Plain browser script under a nonce-only CSP (no inline code, no eval, no
// libraries). It draws what the extension sends (src/extension/stats-charts.ts computes every figure): summary
// figures, horizontal bar charts as SVG, and the skipped files. All data is inserted as text, never as HTML:
// file names come from the repository and could hold anything.
/* global acquireVsCodeApi, window, document */
(function () {
  'use strict';

  const vscode = acquireVsCodeApi();
  const SVG = 'http://www.w3.org/2000/svg';
  const BAR_HEIGHT = 18;
  const GAP = 6;
  const LABEL_WIDTH = 180;
  const VALUE_WIDTH = 90;
  const WIDTH = 640;

  const status = document.getElementById('status');
  const summary = document.getElementById('summary');
  const charts = document.getElementById('charts');
  const skippedSection = document.getElementById('skipped-section');
  const skippedBody = document.querySelector('#skipped tbody');

  function svg(tag, attributes) {
    const element = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
    return element;
  }

  function text(tag, attributes, content) {
    const element = svg(tag, attributes);
    element.textContent = content;
    return element;
  }

  function isNumber(value) {
    return typeof value === 'number' && Number.isFinite(value);
  }

  /** Cuts long labels in the middle, where paths differ least usefully. */
  function shorten(label) {
    return label.length <= 28 ? label : `${label.slice(0, 12)}…${label.slice(-15)}`;
  }

  function drawChart(chart) {
    const bars = Array.isArray(chart.bars) ? chart.bars.filter((b) => b && isNumber(b.value)) : [];
    const section = document.createElement('section');
    section.className = 'chart';
    const title = document.createElement('h2');
    title.textContent = String(chart.title || '');
    const caption = document.createElement('p');
    caption.className = 'caption';
    caption.textContent = String(chart.caption || '');
    section.append(title, caption);
    if (bars.length === 0) {
      const none = document.createElement('p');
      none.className = 'caption';
      none.textContent = 'No data yet.';
      section.append(none);
      return section;
    }
    const largest = Math.max(...bars.map((b) => b.value));
    const max = isNumber(chart.max) && chart.max > 0 ? chart.max : largest > 0 ? largest : 1;
    const plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    const height = bars.length * (BAR_HEIGHT + GAP);
    const root = svg('svg', { viewBox: `0 0 ${WIDTH} ${height}`, width: '100%', role: 'img' });
    root.append(text('title', {}, String(chart.title || '')));
    bars.forEach((bar, i) => {
      const y = i * (BAR_HEIGHT + GAP);
      const width = Math.max(0, Math.min(1, bar.value / max)) * plot;
      const label = text(
        'text',
        { x: LABEL_WIDTH - 8, y: y + BAR_HEIGHT * 0.7, class: 'label' },
        shorten(String(bar.label)),
      );
      label.append(text('title', {}, String(bar.label)));
      root.append(
        label,
        svg('rect', { x: LABEL_WIDTH, y, width: Math.max(width, 1), height: BAR_HEIGHT, rx: 2, class: 'bar' }),
        text('text', { x: LABEL_WIDTH + width + 6, y: y + BAR_HEIGHT * 0.7, class: 'value' }, String(bar.display)),
      );
    });
    section.append(root);
    return section;
  }

  function show(page) {
    status.hidden = true;
    summary.replaceChildren();
    for (const item of Array.isArray(page.summary) ? page.summary : []) {
      const term = document.createElement('dt');
      term.textContent = String(item.label);
      const value = document.createElement('dd');
      value.textContent = String(item.value);
      summary.append(term, value);
    }
    charts.replaceChildren(...(Array.isArray(page.charts) ? page.charts : []).map(drawChart));
    const skipped = Array.isArray(page.skipped) ? page.skipped : [];
    skippedSection.hidden = skipped.length === 0;
    skippedBody.replaceChildren(
      ...skipped.map((s) => {
        const row = document.createElement('tr');
        for (const cell of [s.path, s.reason]) {
          const td = document.createElement('td');
          td.textContent = String(cell);
          row.append(td);
        }
        return row;
      }),
    );
  }

  window.addEventListener('message', (event) => {
    const message = event.data;
    if (!message || typeof message.type !== 'string') return;
    if (message.type === 'stats' && message.page && typeof message.page === 'object') show(message.page);
    if (message.type === 'error') {
      status.hidden = false;
      status.textContent = String(message.message);
    }
  });

  document.getElementById('refresh').addEventListener('click', () => {
    status.hidden = false;
    status.textContent = 'Refreshing…';
    vscode.postMessage({ type: 'refresh' });
  });

  vscode.postMessage({ type: 'ready' });
})();
