import { describe, expect, it } from 'vitest';
import {
  analyzeFile,
  contentStart,
  isSpecificIdentifier,
  lineOf,
  lineStarts,
  type FileAnalysis,
} from '../../src/eval/identifiers';
import type { LanguageId } from '../../src/syntax/languages';
import { loadLanguage, parseText } from '../../src/syntax/parser';

async function analyze(language: LanguageId, text: string): Promise<FileAnalysis> {
  await loadLanguage(language);
  const tree = parseText(language, text);
  try {
    return analyzeFile(text, language, tree);
  } finally {
    tree.delete();
  }
}

const roles = (a: FileAnalysis): Record<string, string> => Object.fromEntries(a.firstUses.map((u) => [u.name, u.role]));

describe('isSpecificIdentifier', () => {
  it('keeps compound names and drops generic ones', () => {
    for (const name of [
      'get_event_loop',
      'ZodType',
      '$ZodTypeDef',
      'MAX_WORKERS',
      '_set_running_loop',
      'parseHeader',
    ]) {
      expect(isSpecificIdentifier(name), name).toBe(true);
    }
    for (const name of [
      'Command',
      'parse',
      'abc',
      'aB',
      '__init__',
      '_private',
      'TypeError',
      'setTimeout',
      'hasOwnProperty',
      'a-b',
    ]) {
      expect(isSpecificIdentifier(name), name).toBe(false);
    }
  });
});

describe('line helpers', () => {
  it('maps offsets to lines and finds the content start', () => {
    const text = 'a\n  bc\r\n\n\tdef';
    const starts = lineStarts(text);
    expect(starts).toEqual([0, 2, 8, 9]);
    expect([0, 1, 2, 7, 8, 9, 12].map((o) => lineOf(starts, o))).toEqual([0, 0, 1, 1, 2, 3, 3]);
    expect(contentStart(text, starts, 1)).toBe(4);
    expect(contentStart(text, starts, 3)).toBe(10);
  });
});

describe('analyzeFile', () => {
  it('reads TypeScript declarations: definitions always, constants only when exported', async () => {
    const a = await analyze(
      'typescript',
      [
        "export { reExported } from './other';",
        'export function makeThing() {}',
        'class LocalKlass {}',
        'export interface ThingShape {}',
        'export type ThingKind = string;',
        'export enum ThingLevel { A }',
        'export const PUBLIC_LIMIT = 1;',
        'const hiddenLimit = 2;',
        'const listedLimit = 3;',
        'export { listedLimit };',
      ].join('\n'),
    );
    expect([...a.shared].sort()).toEqual([
      'LocalKlass',
      'PUBLIC_LIMIT',
      'ThingKind',
      'ThingLevel',
      'ThingShape',
      'listedLimit',
      'makeThing',
    ]);
    expect(a.declared.has('hiddenLimit')).toBe(true);
    expect(a.declared.has('reExported')).toBe(false);
    expect(a.excludedLines.has(0)).toBe(true);
  });

  it('classifies the first use of each name', async () => {
    const a = await analyze(
      'typescript',
      [
        "import * as core from './core';",
        "const helpers = require('./helpers');",
        'function f(paramName: number, { patternName }: Opts) {',
        '  const localName = core.viaImport + helpers.viaRequire + other.viaObject + this.viaThis;',
        '  const typed: core.TypeViaImport = { keyName: plainUse };',
        '}',
      ].join('\n'),
    );
    expect(roles(a)).toMatchObject({
      paramName: 'binding',
      patternName: 'binding',
      localName: 'binding',
      viaImport: 'via-import',
      viaRequire: 'via-import',
      viaObject: 'member',
      viaThis: 'member',
      TypeViaImport: 'via-import',
      keyName: 'binding',
      plainUse: 'plain',
    });
    expect(a.imported.has('core')).toBe(true);
    expect(a.excludedLines.has(1)).toBe(true);
  });

  it('reads Python declarations, uses, comment and docstring lines', async () => {
    const text = [
      '"""Module doc',
      'mentions in_docstring here."""',
      'from . import events',
      'MAX_LIMIT = 3',
      '',
      'def run_it(arg_name, kw_default=1):',
      '    # a comment line',
      '    local_value = events.get_loop(kw_name=arg_name)',
      '    return self.some_method() + plain_call()',
    ].join('\n');
    const a = await analyze('python', text);
    expect([...a.shared].sort()).toEqual(['MAX_LIMIT', 'run_it']);
    expect(roles(a)).toMatchObject({
      arg_name: 'binding',
      kw_default: 'binding',
      local_value: 'binding',
      get_loop: 'via-import',
      kw_name: 'binding',
      some_method: 'member',
      plain_call: 'plain',
    });
    expect(roles(a).in_docstring).toBeUndefined();
    expect([...a.excludedLines].sort()).toEqual([1, 2, 6]);
  });
});
