// A file of its own: the grammar directory is module state, and vitest gives each test file fresh modules.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, expect, it } from 'vitest';
import { getGrammarDirectory, initSyntax, loadLanguage, parseText } from '../../src/syntax/parser';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-grammars-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('reads grammars and the runtime from an override directory (the bundled extension layout)', async () => {
  const req = createRequire(__filename);
  const grammars = path.join(path.dirname(req.resolve('@repomix/tree-sitter-wasms/package.json')), 'out');
  fs.copyFileSync(path.join(grammars, 'tree-sitter-rust.wasm'), path.join(dir, 'tree-sitter-rust.wasm'));
  fs.copyFileSync(req.resolve('web-tree-sitter/web-tree-sitter.wasm'), path.join(dir, 'web-tree-sitter.wasm'));
  await initSyntax({ grammarDirectory: dir });
  expect(getGrammarDirectory()).toBe(dir);
  await loadLanguage('rust');
  const tree = parseText('rust', 'fn main() {}\n');
  expect(tree.rootNode.child(0)!.type).toBe('function_item');
  tree.delete();
  await expect(loadLanguage('python')).rejects.toThrow(
    /cannot load the python grammar from .*tree-sitter-python\.wasm/,
  );
  expect(() => parseText('python', 'x = 1')).toThrow(/not loaded/);
});
