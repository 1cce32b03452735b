import { describe, expect, it } from 'vitest';
import { LANGUAGE_IDS, languageForPath } from '../../src/syntax/languages';
import { editTree, getGrammarDirectory, loadLanguage, parseText } from '../../src/syntax/parser';

describe('parser', () => {
  it('loads every grammar from @repomix/tree-sitter-wasms', async () => {
    expect(getGrammarDirectory()).toMatch(/@repomix[\\/]tree-sitter-wasms[\\/]out$/);
    for (const id of LANGUAGE_IDS) {
      const language = await loadLanguage(id);
      expect(language.abiVersion, id).toBeGreaterThanOrEqual(13);
    }
  });

  it('loads each grammar once', async () => {
    expect(loadLanguage('go')).toBe(loadLanguage('go'));
  });

  it('counts indices and columns in UTF-16 code units, like VS Code', async () => {
    await loadLanguage('typescript');
    const text = 'const é = "ü😀";\nfunction foo() {}\n';
    const tree = parseText('typescript', text);
    const fn = tree.rootNode.child(1)!;
    expect(fn.type).toBe('function_declaration');
    expect(fn.startIndex).toBe(text.indexOf('function')); // 17: UTF-8 would say 21
    const decl = tree.rootNode.child(0)!;
    expect(decl.endIndex).toBe(text.indexOf('\n'));
    expect(decl.endPosition).toEqual({ row: 0, column: 16 }); // UTF-8 would say 20
    tree.delete();
  });

  it('reparses incrementally after an edit given in UTF-16 units', async () => {
    await loadLanguage('python');
    const before = 'x = "😀"\ndef f():\n    pass\n';
    const tree = parseText('python', before);
    const at = before.indexOf('f()');
    const after = `${before.slice(0, at)}g${before.slice(at + 1)}`;
    editTree(tree, {
      startIndex: at,
      oldEndIndex: at + 1,
      newEndIndex: at + 1,
      startPosition: { row: 1, column: 4 },
      oldEndPosition: { row: 1, column: 5 },
      newEndPosition: { row: 1, column: 5 },
    });
    const next = parseText('python', after, tree);
    expect(next.rootNode.child(1)!.childForFieldName('name')!.text).toBe('g');
    expect(next.rootNode.toString()).toBe(parseText('python', after).rootNode.toString());
    tree.delete();
    next.delete();
  });

  it('maps file names and extensions to languages', () => {
    expect(languageForPath('a/b/Rakefile')).toBe('ruby');
    expect(languageForPath('x.H')).toBe('cpp');
    expect(languageForPath('lib.h')).toBe('cpp');
    expect(languageForPath('Main.JAVA')).toBe('java');
    expect(languageForPath('README.md')).toBeNull();
    expect(languageForPath('.gitignore')).toBeNull();
    expect(languageForPath('Makefile')).toBeNull();
  });
});
