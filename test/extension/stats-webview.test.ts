import { readFileSync } from 'node:fs';
import path from 'node:path';
import { JSDOM } from 'jsdom';
import { describe, expect, it } from 'vitest';
import { statsPage } from '../../src/extension/stats-charts';
import { statsHtml } from '../../src/extension/stats-html';
import { FAKE_STATS } from '../sidecar/fake-service';

const STATS_JS = readFileSync(path.join(__dirname, '..', '..', 'media', 'stats.js'), 'utf8');
const CSP_SOURCE = 'https://webview.test';

function openPage() {
  const html = statsHtml({
    cspSource: CSP_SOURCE,
    nonce: 'bm9uY2Vub25jZW5vbmNlbm9u',
    scriptUri: `${CSP_SOURCE}/media/stats.js`,
    styleUri: `${CSP_SOURCE}/media/stats.css`,
  });
  // The page's own script tag does not run here; stats.js is evaluated the way the webview would load it.
  const dom = new JSDOM(html, { runScripts: 'outside-only', url: `${CSP_SOURCE}/` });
  const posted: unknown[] = [];
  Object.assign(dom.window, { acquireVsCodeApi: () => ({ postMessage: (m: unknown) => posted.push(m) }) });
  dom.window.eval(STATS_JS);
  const send = (data: unknown) => dom.window.dispatchEvent(new dom.window.MessageEvent('message', { data }));
  return { dom, doc: dom.window.document, posted, send };
}

describe('stats webview', () => {
  it('has a nonce-only CSP and asks for its data once loaded', () => {
    const { doc, posted } = openPage();
    const csp = doc.querySelector('meta[http-equiv="Content-Security-Policy"]')!.getAttribute('content')!;
    expect(csp).toContain("script-src 'nonce-bm9uY2Vub25jZW5vbmNlbm9u'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(posted).toEqual([{ type: 'ready' }]);
  });

  it('draws the summary, one SVG bar per entry, and the skipped files', () => {
    const { doc, send } = openPage();
    send({ type: 'stats', page: statsPage(FAKE_STATS) });
    expect(doc.querySelectorAll('#summary dt')).toHaveLength(10);
    const charts = doc.querySelectorAll('#charts section');
    expect(charts).toHaveLength(7);
    expect(charts[2]!.querySelectorAll('rect.bar')).toHaveLength(2);
    expect(charts[2]!.querySelector('text.value')!.textContent).toBe('60%');
    expect(doc.querySelector('#skipped tbody td')!.textContent).toBe('.env');
    expect(doc.getElementById('skipped-section')!.hidden).toBe(false);
  });

  it('shows hostile file names as text, never as markup', () => {
    const { doc, send } = openPage();
    const evil = '<img src=x onerror=alert(1)>.ts';
    send({
      type: 'stats',
      page: statsPage({ ...FAKE_STATS, bytesPerFile: { [evil]: 10 }, skipped: [{ path: evil, reason: '<b>x</b>' }] }),
    });
    expect(doc.querySelectorAll('img, b')).toHaveLength(0);
    expect(doc.querySelector('#skipped tbody td')!.textContent).toBe(evil);
  });

  it('asks for fresh data on Refresh and shows an error message', () => {
    const { doc, posted, send } = openPage();
    doc.getElementById('refresh')!.dispatchEvent(new doc.defaultView!.MouseEvent('click'));
    expect(posted.at(-1)).toEqual({ type: 'refresh' });
    send({ type: 'error', message: 'No statistics: the sidecar is not running' });
    expect(doc.getElementById('status')!.textContent).toBe('No statistics: the sidecar is not running');
  });
});
