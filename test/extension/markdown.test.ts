import { JSDOM } from 'jsdom';
import { describe, expect, it } from 'vitest';
import { isSafeHref, renderMarkdown } from '../../src/extension/chat/markdown';
import { HOSTILE_MARKDOWN } from './hostile';

/** Parses rendered HTML the way a browser would and lists anything that could execute or navigate unsafely. */
function dangers(html: string): string[] {
  const doc = new JSDOM(`<body>${html}</body>`).window.document;
  const found: string[] = [];
  for (const el of Array.from(doc.body.querySelectorAll('*'))) {
    const tag = el.localName;
    if (['script', 'iframe', 'object', 'embed', 'svg', 'img', 'style', 'form', 'details'].includes(tag))
      found.push(tag);
    for (const attr of Array.from(el.attributes)) {
      if (attr.name.startsWith('on')) found.push(`${tag}[${attr.name}]`);
      if (attr.name === 'style') found.push(`${tag}[style]`);
      if (['href', 'src', 'action', 'formaction'].includes(attr.name) && !/^(https?:\/\/|mailto:)/i.test(attr.value))
        found.push(`${tag}[${attr.name}=${attr.value}]`);
    }
  }
  return found;
}

describe('renderMarkdown safety', () => {
  it.each(HOSTILE_MARKDOWN.map((s) => [s]))('renders %j inert', (source) => {
    expect(dangers(renderMarkdown(source))).toEqual([]);
  });

  it('escapes raw HTML as visible text', () => {
    expect(renderMarkdown('<script>alert(1)</script>')).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('renders unsafe links as their text, safe ones as links', () => {
    const html = renderMarkdown('[bad](javascript:alert(1)) [ok](https://example.com) [mail](mailto:a@b.c)');
    expect(html).not.toMatch(/href="(?!https:|mailto:)/);
    expect(html).toContain('<a href="https://example.com">ok</a>');
    expect(html).toContain('<a href="mailto:a@b.c">mail</a>');
    expect(html).toContain('bad');
  });

  it('linkifies bare https URLs', () => {
    expect(renderMarkdown('see https://example.com/x')).toContain('<a href="https://example.com/x">');
  });

  it('does not load images, it leaves a link', () => {
    const html = renderMarkdown('![chart](https://example.com/c.png)');
    expect(html).not.toContain('<img');
    expect(html).toContain('<a href="https://example.com/c.png">chart</a>');
  });

  it('turns table alignment into classes instead of inline styles', () => {
    const html = renderMarkdown('| a | b |\n|:-:|--:|\n| 1 | 2 |');
    expect(html).not.toContain('style=');
    expect(html).toContain('class="align-center"');
    expect(html).toContain('class="align-right"');
  });
});

describe('renderMarkdown code blocks', () => {
  it('wraps fences with copy and insert buttons carrying only data attributes', () => {
    const html = renderMarkdown('```ts\nconst a = "<b>" && 1;\n```');
    const doc = new JSDOM(`<body>${html}</body>`).window.document;
    const block = doc.querySelector('.code-block')!;
    expect(block.getAttribute('data-lang')).toBe('ts');
    const actions = Array.from(block.querySelectorAll('button')).map((b) => b.getAttribute('data-action'));
    expect(actions).toEqual(['copy', 'insert']);
    for (const b of Array.from(block.querySelectorAll('button'))) expect(b.getAttribute('type')).toBe('button');
    expect(block.querySelector('pre code.language-ts')!.textContent).toBe('const a = "<b>" && 1;\n');
  });

  it('ignores a hostile info string and renders an unterminated fence (streaming) as code', () => {
    const html = renderMarkdown('```"><img src=x onerror=alert(1)>\nlet x = 1;');
    expect(dangers(html)).toEqual([]);
    expect(html).toContain('<pre><code>let x = 1;');
  });

  it('wraps indented code blocks too', () => {
    expect(renderMarkdown('text\n\n    indented();\n')).toContain('class="code-block"');
  });
});

describe('isSafeHref', () => {
  it('allows only http, https and mailto', () => {
    for (const ok of ['http://a.b', 'https://a.b/c?d#e', 'HTTPS://A.B', 'mailto:x@y.z'])
      expect(isSafeHref(ok)).toBe(true);
    for (const bad of [
      'javascript:alert(1)',
      ' https://a.b',
      'data:text/html,x',
      'vscode:x',
      'command:x',
      './a',
      '#x',
      'https:/a',
    ])
      expect(isSafeHref(bad)).toBe(false);
  });
});
