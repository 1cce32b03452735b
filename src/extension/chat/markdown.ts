import markdownIt, { type MarkdownIt, type StateCore, type Token } from 'markdown-it';

/**
 * Renders model output, which is untrusted (a prompt injection hidden in a repository file can steer it), to HTML
 * for the chat webview. The rules, each closing a hole:
 * - raw HTML in the markdown is escaped, never passed through (`html: false`);
 * - links survive only with an `http:`, `https:` or `mailto:` target; any other link (`javascript:`, `data:`,
 *   `vscode:`, `command:`, relative paths) is rendered as its plain text;
 * - images are not rendered at all: an image URL loads without a click and could carry data out of the
 *   repository in its query string, so `![alt](url)` degrades to a link the user may or may not follow;
 * - code blocks are wrapped with copy and insert buttons that only carry `data-action`: the webview script handles
 *   clicks by delegation, so no inline handler or script is ever emitted;
 * - table alignment becomes a class, since the webview's CSP rejects inline `style` attributes.
 * The webview sanitises again on its side; this module is the first line, not the only one.
 */

const SAFE_HREF = /^(?:https?:\/\/|mailto:)/i;

/** Whether a link target may be rendered as a link. */
export function isSafeHref(href: string): boolean {
  return SAFE_HREF.test(href);
}

let renderer: MarkdownIt | undefined;

/** The chat's markdown to safe HTML. Unterminated constructs (a streaming answer) render as far as they go. */
export function renderMarkdown(source: string): string {
  renderer ??= createRenderer();
  return renderer.render(source);
}

function createRenderer(): MarkdownIt {
  const md = new markdownIt({ html: false, linkify: true, typographer: false });
  md.disable('image');
  // markdown-it checks every link target with this (inline, reference, autolink, linkify); on failure an inline
  // link keeps an empty href, which the core rule below turns back into text.
  md.validateLink = isSafeHref;
  md.core.ruler.push('repokv_unlink_unsafe', unlinkUnsafe);
  md.core.ruler.push('repokv_align_classes', alignmentToClasses);
  md.renderer.rules.fence = (tokens, idx) => codeBlock(md, tokens[idx]!.content, tokens[idx]!.info);
  md.renderer.rules.code_block = (tokens, idx) => codeBlock(md, tokens[idx]!.content, '');
  return md;
}

function unlinkUnsafe(state: StateCore): void {
  for (const block of state.tokens) {
    if (block.type !== 'inline' || !block.children) continue;
    const dropped: boolean[] = [];
    block.children = block.children.filter((t) => {
      if (t.type === 'link_open') {
        const drop = !isSafeHref(String(t.attrGet('href') ?? ''));
        dropped.push(drop);
        return !drop;
      }
      if (t.type === 'link_close') return !(dropped.pop() ?? false);
      return true;
    });
  }
}

function alignmentToClasses(state: StateCore): void {
  const visit = (tokens: readonly Token[]): void => {
    for (const t of tokens) {
      const style = t.attrGet('style');
      if (style !== null) {
        const align = /text-align:\s*(left|center|right)/.exec(String(style))?.[1];
        t.attrs = (t.attrs ?? []).filter(([name]) => name !== 'style');
        if (align) t.attrJoin('class', `align-${align}`);
      }
      if (t.children) visit(t.children);
    }
  };
  visit(state.tokens);
}

/** Only plain identifiers as language names: the name lands in a class and a data attribute. */
function languageOf(info: string): string {
  const name = info.trim().split(/\s+/)[0] ?? '';
  return /^[\w+#.-]{1,32}$/.test(name) ? name : '';
}

function codeBlock(md: MarkdownIt, code: string, info: string): string {
  const lang = languageOf(info);
  const esc = md.utils.escapeHtml;
  const langAttr = lang ? ` data-lang="${esc(lang)}"` : '';
  const codeClass = lang ? ` class="language-${esc(lang)}"` : '';
  return (
    `<div class="code-block"${langAttr}>` +
    `<div class="code-toolbar"><span class="code-lang">${esc(lang)}</span>` +
    actionButton('copy', 'Copy', 'copy', 'Copy') +
    actionButton('insert', 'Insert at cursor', 'insert', 'Insert') +
    `</div><pre><code${codeClass}>${esc(code)}</code></pre></div>\n`
  );
}

function actionButton(action: string, title: string, icon: string, label: string): string {
  return (
    `<button type="button" class="code-action" data-action="${action}" title="${title}">` +
    `<span class="codicon codicon-${icon}" aria-hidden="true"></span><span class="label">${label}</span></button>`
  );
}
