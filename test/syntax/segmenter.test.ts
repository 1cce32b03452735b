import { describe, expect, it } from 'vitest';
import { languageForPath } from '../../src/syntax/languages';
import { segmentText } from '../../src/syntax/segmenter';
import type { Segment } from '../../src/syntax/types';
import { approxTokens, expectWellFormed, readFixture, segmentOptions } from './helpers';

interface Case {
  file: string;
  language: string;
  /** Names declared at top level (default options: whole declarations). */
  names: string[];
  /** Member names that must show up once the container is split (small maxSegmentTokens). */
  members: string[];
}

const CASES: Case[] = [
  {
    file: 'sample.ts',
    language: 'typescript',
    names: ['MAX_BYTES', 'DEFAULT_NAME', 'Options', 'Mode', 'Level', 'load', 'helper', 'Indexer', 'main', 'double'],
    members: ['Indexer.items', 'Indexer.constructor', 'Indexer.add', 'Indexer.size', 'Indexer.dispose'],
  },
  { file: 'sample.tsx', language: 'tsx', names: ['Props', 'Counter', 'Badge', 'Panel'], members: [] },
  {
    file: 'sample.js',
    language: 'javascript',
    names: ['fs', 'RETRIES', 'greeting', 'retry', 'square', 'Queue'],
    members: [],
  },
  {
    file: 'sample.py',
    language: 'python',
    names: ['MAX_ITEMS', 'DEFAULT_PATH', 'Item', 'load', 'refresh'],
    members: ['Item.name', 'Item.count', 'Item.tags', 'Item.total', 'Item.label'],
  },
  {
    file: 'sample.go',
    language: 'go',
    names: ['ErrNotFound', 'DefaultSize', 'MaxSize', 'Store', 'Getter', 'New', 'Get', 'Set'],
    members: [],
  },
  {
    file: 'sample.rs',
    language: 'rust',
    names: ['ORIGIN', 'GREETING', 'Point', 'Shape', 'Area', 'Registry', 'distance', 'square', 'tests', 'zero'],
    members: ['Shape.area'], // `impl Display for Point` still fits 48 tokens whole
  },
  {
    file: 'Sample.java',
    language: 'java',
    names: ['Account', 'Auditor', 'Currency', 'Transfer'],
    members: [
      'Account.MAX_OWNERS',
      'Account.id',
      'Account.balance',
      'Account.deposit',
      'Account.getBalance',
      'Account.compareTo',
    ],
  },
  {
    file: 'sample.c',
    language: 'c',
    names: ['MAX_NODES', 'SQUARE', 'node_t', 'color', 'counter', 'list_length', 'node_new', 'main'],
    members: [],
  },
  {
    file: 'sample.cpp',
    language: 'cpp',
    names: ['geo', 'kEpsilon', 'Vec2', 'Box', 'clamp', 'length', 'Path', 'main'],
    members: ['Vec2.dot', 'Vec2.operator+', 'Vec2.x_', 'Vec2.y_'],
  },
  {
    file: 'sample.cs',
    language: 'csharp',
    names: ['Shop.Orders', 'OrderLine', 'Status', 'IOrderRepository', 'Order', 'Money'],
    members: ['Order.MaxLines', 'Order._lines', 'Order.Id', 'Order.Add', 'Order.TotalQuantity'],
  },
  {
    file: 'sample.rb',
    language: 'ruby',
    names: ['MAX_RETRIES', 'GREETING', 'Events', 'Bus', 'default_bus', 'log', 'Error'],
    members: ['Bus.initialize', 'Bus.on', 'Bus.emit'],
  },
  {
    file: 'sample.php',
    language: 'php',
    names: ['VERSION', 'User', 'Repository', 'Timestamps', 'Suit', 'helper'],
    members: ['User.ROLE_ADMIN', 'User.$roles', 'User.__construct', 'User.getName', 'User.grant'],
  },
];

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const allNames = (segments: Segment[]): string[] => segments.flatMap((s) => s.names);

describe.each(CASES)('$language ($file)', ({ file, language, names, members }) => {
  const text = readFixture(file);
  const path = `src/${file}`;

  it('maps the extension to the language', () => {
    expect(languageForPath(path)).toBe(language);
  });

  it('covers the file exactly, names the declarations and protects their names', async () => {
    const segments = await segmentText(path, text, segmentOptions());
    expectWellFormed(segments, text, path);
    expect(allNames(segments)).toEqual(expect.arrayContaining(names));
    for (const s of segments) {
      expect(s.kind).not.toBe('lines'); // every fixture fits the default budget declaration by declaration
      expect(s.tokens).toBeLessThanOrEqual(512);
      // each plain (unqualified) name of a segment lies inside one of its protected ranges
      for (const qualified of s.names) {
        // members are listed as `Class.member`: look for the member's own name
        const name = s.text.includes(qualified) ? qualified : qualified.slice(qualified.lastIndexOf('.') + 1);
        const occurrences: number[] = [];
        for (let at = s.text.indexOf(name, s.headerLength); at !== -1; at = s.text.indexOf(name, at + 1))
          occurrences.push(at);
        expect(occurrences.length, `${name} in ${file}`).toBeGreaterThan(0);
        const inRange = occurrences.some((at) => s.protected.some((r) => r.start <= at && at + name.length <= r.end));
        expect(inRange, `${name} protected`).toBe(true);
      }
    }
    expect(segments.some((s) => s.kind === 'declaration' || s.kind === 'mixed')).toBe(true);
  });

  it('splits to fit a small budget, by members first, and keeps every segment within it', async () => {
    const max = 48;
    const segments = await segmentText(path, text, segmentOptions({ maxSegmentTokens: max, minSegmentTokens: 16 }));
    expectWellFormed(segments, text, path);
    for (const s of segments) expect(approxTokens(s.text)).toBeLessThanOrEqual(max);
    expect(allNames(segments)).toEqual(expect.arrayContaining(members));
    if (members.length > 0) expect(segments.some((s) => s.kind === 'members')).toBe(true);
  });

  it('merges small neighbours up to the minimum and no further', async () => {
    const min = 200;
    const options = segmentOptions({ maxSegmentTokens: 1024, minSegmentTokens: min });
    const merged = await segmentText(path, text, options);
    const fine = await segmentText(path, text, segmentOptions({ maxSegmentTokens: 1024, minSegmentTokens: 0 }));
    expectWellFormed(merged, text, path);
    expect(merged.length).toBeLessThan(fine.length);
    // a merged segment only grows while it is under the minimum: its parts minus the last are below it
    for (const s of merged) expect(s.tokens).toBeLessThan(2 * min + 10);
  });
});

describe('further grammars (smoke)', () => {
  it.each([
    [
      'a.css',
      '@import url("base.css");\n\n.button { color: red; }\n\n@media (max-width: 600px) {\n  .button { color: blue; }\n}\n',
      ['.button'],
    ],
    [
      'a.swift',
      'import Foundation\n\nstruct Point { var x: Double }\n\nfunc main() { print("hi") }\n',
      ['Point', 'main'],
    ],
    [
      'a.dart',
      "import 'dart:math';\n\nclass Shape {\n  double area() => 0;\n}\n\nenum Dir { up, down }\n",
      ['Shape', 'Dir'],
    ],
    ['a.sol', 'pragma solidity ^0.8.0;\n\ncontract Token {\n    uint256 public total;\n}\n', ['Token']],
  ])('%s', async (file, text, names) => {
    const segments = await segmentText(file, text, segmentOptions({ minSegmentTokens: 0 }));
    expectWellFormed(segments, text, file);
    expect(allNames(segments)).toEqual(expect.arrayContaining(names));
  });
});

describe('segmenter', () => {
  it('gives a moved declaration the same hash', async () => {
    const a = 'function alpha() {\n  return 1;\n}\n\nfunction beta() {\n  return 2;\n}\n';
    const b = 'function beta() {\n  return 2;\n}\n\nfunction alpha() {\n  return 1;\n}\n\n';
    const opts = segmentOptions({ minSegmentTokens: 0 });
    const sa = await segmentText('m.ts', a, opts);
    const sb = await segmentText('m.ts', b, opts);
    expect(sa.map((s) => s.names)).toEqual([['alpha'], ['beta']]);
    expect(sb.map((s) => s.names)).toEqual([['beta'], ['alpha']]);
    expect(sb[1]!.hash).toBe(sa[0]!.hash); // alpha moved: same text, same header, same hash
    expect(sb[0]!.hash).not.toBe(sa[1]!.hash); // beta gained the blank line that separated them
  });

  it('makes the hash depend on the path through the header', async () => {
    const text = 'export const x = 1;\n';
    const [a] = await segmentText('a.ts', text, segmentOptions());
    const [b] = await segmentText('b.ts', text, segmentOptions());
    expect(a!.text).toBe('<|file_sep|>a.ts\nexport const x = 1;\n');
    expect(a!.hash).not.toBe(b!.hash);
  });

  it('uses the injected header and token counter', async () => {
    const seen: string[] = [];
    const segments = await segmentText('x.py', 'def f():\n    return 1\n', {
      fileHeader: (p) => `### ${p}\n`,
      countTokens: (t) => {
        seen.push(t);
        return t.length;
      },
    });
    expect(segments[0]!.header).toBe('### x.py\n');
    expect(segments[0]!.tokens).toBe(segments[0]!.text.length);
    expect(seen).toContain('### x.py\n');
  });

  it('chunks files without a grammar by lines, within the budget', async () => {
    const paragraphs = Array.from(
      { length: 40 },
      (_, i) => `Paragraph ${i} about the café — ${'word '.repeat(i % 9)}\n\n`,
    );
    const text = `# Title\n\n${paragraphs.join('')}`;
    const segments = await segmentText(
      'docs/guide.md',
      text,
      segmentOptions({ maxSegmentTokens: 64, minSegmentTokens: 16 }),
    );
    expectWellFormed(segments, text, 'docs/guide.md');
    expect(segments.length).toBeGreaterThan(5);
    for (const s of segments) {
      expect(s.kind).toBe('lines');
      expect(approxTokens(s.text)).toBeLessThanOrEqual(64);
    }
    const small = await segmentText('notes.txt', 'short\n', segmentOptions());
    expect(small.map((s) => s.kind)).toEqual(['lines']);
  });

  it('cuts a single over-long line without splitting a surrogate pair', async () => {
    const text = `const s = "${'😀a'.repeat(300)}";\n`;
    const segments = await segmentText('emoji.ts', text, segmentOptions({ maxSegmentTokens: 40, minSegmentTokens: 0 }));
    expectWellFormed(segments, text, 'emoji.ts');
    expect(segments.length).toBeGreaterThan(5);
    for (const s of segments) {
      const body = s.text.slice(s.headerLength);
      expect(LONE_SURROGATE.test(body)).toBe(false);
      expect(approxTokens(s.text)).toBeLessThanOrEqual(40);
    }
  });

  it('handles empty, blank and BOM-prefixed files', async () => {
    expect(await segmentText('e.ts', '', segmentOptions())).toEqual([]);
    const blank = await segmentText('b.ts', '\n\n  \n', segmentOptions());
    expectWellFormed(blank, '\n\n  \n', 'b.ts');
    const bom = '\uFEFFimport os\n\ndef f():\n    pass\n';
    const segments = await segmentText('bom.py', bom, segmentOptions({ minSegmentTokens: 0 }));
    expectWellFormed(segments, bom, 'bom.py');
    expect(segments[0]!.startByte).toBe(0);
    expect(segments[1]!.startByte).toBe(Buffer.byteLength('\uFEFFimport os\n\n'));
  });

  it('keeps working on syntax errors', async () => {
    const text = 'class A {\n  m( {\n}\n\nfunction ok() { return 1 }\n)))\n';
    const segments = await segmentText('broken.ts', text, segmentOptions({ minSegmentTokens: 0 }));
    expectWellFormed(segments, text, 'broken.ts');
  });

  it('opens namespaces and header guards so that each declaration gets its own segment', async () => {
    const body = Array.from(
      { length: 6 },
      (_, i) => `int function_number_${i}(int x) {\n  return x * ${i} + 12345;\n}\n\n`,
    ).join('');
    const text = `#ifndef LIB_H\n#define LIB_H\n\n${body}#endif\n`;
    const segments = await segmentText('lib.h', text, segmentOptions({ minSegmentTokens: 0 }));
    expectWellFormed(segments, text, 'lib.h');
    expect(segments.length).toBeGreaterThanOrEqual(6);
    expect(segments.flatMap((s) => s.names)).toEqual(
      expect.arrayContaining(['function_number_0', 'function_number_5']),
    );
  });

  it('cuts a huge statement between the statements of its dominant block, not between arbitrary lines', async () => {
    const cases = Array.from(
      { length: 12 },
      (_, i) =>
        `  it('case ${i}', () => {\n    const value = compute(${i});\n    expect(value).toBe(${i * i});\n  });\n\n`,
    );
    const text = `describe('suite', () => {\n${cases.join('')}});\n`;
    const segments = await segmentText(
      'a.test.ts',
      text,
      segmentOptions({ maxSegmentTokens: 64, minSegmentTokens: 0 }),
    );
    expectWellFormed(segments, text, 'a.test.ts');
    expect(segments.some((s) => s.kind === 'lines')).toBe(false);
    // every cut falls just before an `it(` call (or at the start of the file)
    for (const s of segments.slice(1)) expect(s.text.slice(s.headerLength)).toMatch(/^ {2}it\('case \d+'/);
  });

  it('coalesces consecutive imports into one block', async () => {
    const text =
      "import a from 'a';\nimport b from 'b';\n// c\nimport c from 'c';\n\nexport function f() {\n  return a + b + c;\n}\n";
    const segments = await segmentText('i.ts', text, segmentOptions({ minSegmentTokens: 0 }));
    expect(segments.map((s) => s.kind)).toEqual(['imports', 'declaration']);
  });
});
