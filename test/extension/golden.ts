import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { PostprocessInput } from '../../src/extension/completion/postprocess';

/** One golden case of `test/fixtures/completion/` (format in that folder's README). */
export interface GoldenCase {
  readonly name: string;
  readonly input: PostprocessInput;
  readonly expected: string | null;
}

export const FIXTURE_DIR = path.join(__dirname, '..', 'fixtures', 'completion');
const CURSOR = '║';

export function loadGoldenCases(dir = FIXTURE_DIR): GoldenCase[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => parseGoldenCase(f.replace(/\.txt$/, ''), readFileSync(path.join(dir, f), 'utf8')));
}

function unescape(text: string): string {
  return text.replace(/␉/g, '\t').replace(/␠/g, ' ').replace(/␍/g, '\r');
}

export function parseGoldenCase(name: string, source: string): GoldenCase {
  const lines = source.replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n');
  const header = new Map<string, string>();
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of lines) {
    if (line.startsWith('---')) {
      current = [];
      sections.set(line.slice(3).trim(), current);
    } else if (current) {
      current.push(line);
    } else if (!line.startsWith('#') && line.trim() !== '') {
      const colon = line.indexOf(':');
      if (colon < 0) throw new Error(`${name}: bad header line ${JSON.stringify(line)}`);
      header.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
  }
  const section = (key: string): string => {
    const body = sections.get(key);
    if (!body) throw new Error(`${name}: missing section --- ${key}`);
    return unescape(body.join('\n'));
  };

  const document = section('document').split('\n');
  const row = document.findIndex((l) => l.includes(CURSOR));
  if (row < 0 || document.join('\n').split(CURSOR).length !== 2) throw new Error(`${name}: need exactly one ${CURSOR}`);
  const [linePrefix, lineSuffix] = document[row]!.split(CURSOR) as [string, string];
  const indent = header.get('indent') ?? '4';
  const number = (key: string): number | undefined => (header.has(key) ? Number(header.get(key)) : undefined);

  return {
    name,
    input: {
      completion: section('completion'),
      linePrefix,
      lineSuffix,
      followingLines: document.slice(row + 1),
      indentUnit: indent === 'tab' ? '\t' : ' '.repeat(Number(indent)),
      languageId: header.get('language') ?? 'plaintext',
      tabSize: number('tabSize'),
      maxLines: number('maxLines'),
    },
    expected: sections.has('expected: null') ? null : section('expected'),
  };
}
