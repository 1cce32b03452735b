/**
 * VS Code-style glob patterns (`files.exclude`, `repokv.exclude`) matched against repository-relative paths:
 * `*` and `?` within one path segment, `**` across segments, `{a,b}` alternatives, `[abc]` / `[!abc]` classes.
 * As in VS Code, a pattern is anchored at the workspace root (`*.log` matches `a.log`, not `x/a.log`; write
 * `**\/*.log` for any depth), and a pattern matching a folder excludes everything inside it.
 */

function escapeChar(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

/** Converts a glob to the source of an anchored regular expression. */
function convert(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const atSegmentStart = i === 0 || glob[i - 1] === '/';
        const next = glob[i + 2];
        if (atSegmentStart && next === '/') {
          out += '(?:[^/]*/)*'; // `**/`: any number of whole segments
          i += 2;
        } else if (atSegmentStart && next === undefined) {
          out += '.*';
          i += 1;
        } else {
          out += '[^/]*'; // `a**b` is just `a*b`
          i += 1;
        }
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) {
        out += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, close);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      out += `[${body.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else if (c === '{') {
      let depth = 0;
      let end = i;
      const parts: string[] = [];
      let partStart = i + 1;
      for (; end < glob.length; end++) {
        if (glob[end] === '{') depth++;
        else if (glob[end] === '}' && --depth === 0) break;
        else if (glob[end] === ',' && depth === 1) {
          parts.push(glob.slice(partStart, end));
          partStart = end + 1;
        }
      }
      if (end >= glob.length) {
        out += '\\{';
        continue;
      }
      parts.push(glob.slice(partStart, end));
      out += `(?:${parts.map(convert).join('|')})`;
      i = end;
    } else {
      out += escapeChar(c);
    }
  }
  return out;
}

export function globToRegExp(glob: string): RegExp {
  const normalized = glob.trim().replace(/\\/g, '/').replace(/^\.\//, '').replace(/^\/+/, '').replace(/\/+$/, '');
  return new RegExp(`^${convert(normalized)}$`);
}

/** A `files.exclude`-style setting: a list of globs, or globs mapped to true/false or to a sibling condition. */
export type ExcludeSetting = readonly string[] | Readonly<Record<string, boolean | { when: string }>>;

interface CompiledGlob {
  re: RegExp;
  /** VS Code's `{ "when": "$(basename).ts" }`: excluded only when that sibling exists. */
  when?: string;
}

export class GlobSet {
  private readonly globs: CompiledGlob[] = [];

  constructor(settings: readonly ExcludeSetting[] = []) {
    for (const setting of settings) {
      if (Array.isArray(setting)) {
        for (const g of setting as readonly string[]) this.globs.push({ re: globToRegExp(g) });
      } else {
        for (const [g, v] of Object.entries(setting as Record<string, boolean | { when: string }>)) {
          if (v === true) this.globs.push({ re: globToRegExp(g) });
          else if (v && typeof v === 'object' && typeof v.when === 'string')
            this.globs.push({ re: globToRegExp(g), when: v.when });
        }
      }
    }
  }

  get size(): number {
    return this.globs.length;
  }

  /**
   * The source of the first glob matching `relPath`, or null. Callers test folders as they walk into them
   * (`isDirectory`: `foo/**` then matches the folder `foo`), so a folder's exclusion covers its contents.
   * `siblingExists` answers `when` conditions.
   */
  match(relPath: string, isDirectory = false, siblingExists: (name: string) => boolean = () => false): string | null {
    for (const g of this.globs) {
      if (!g.re.test(relPath) && !(isDirectory && g.re.test(`${relPath}/`))) continue;
      if (g.when) {
        const base = relPath.slice(relPath.lastIndexOf('/') + 1);
        const stem = base.includes('.') ? base.slice(0, base.lastIndexOf('.')) : base;
        if (!siblingExists(g.when.replace(/\$\(basename\)/g, stem))) continue;
      }
      return g.re.source;
    }
    return null;
  }
}
