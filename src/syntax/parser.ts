/**
 * web-tree-sitter runtime: one lazy initialisation, grammars loaded once and cached, parsers reused.
 *
 * Where the .wasm files come from: at dev time from node_modules (`@repomix/tree-sitter-wasms/out` for the
 * grammars, `web-tree-sitter/web-tree-sitter.wasm` for the runtime), in the bundled extension from a directory
 * next to dist/ given by `setGrammarDirectory` (or `initSyntax({grammarDirectory})`) before the first parse.
 * The runtime wasm is looked up in that directory first, then in node_modules.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Language, Parser as ParserType, Tree } from 'web-tree-sitter';
import { getLanguage, type LanguageId } from './languages';
import type { TreeEditInput } from './text-edit';

/*
 * web-tree-sitter is loaded with require() on purpose: bundlers resolve an `import` of it to its ES module
 * build, which calls `createRequire(import.meta.url)` at init and fails once bundled to CommonJS (dist/*.js),
 * where `import.meta` is empty. require() selects its CommonJS build, which works bundled and under vitest.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const TreeSitter = require('web-tree-sitter') as typeof import('web-tree-sitter');

export interface SyntaxInitOptions {
  /** Directory holding the grammar .wasm files (and optionally web-tree-sitter.wasm). */
  grammarDirectory?: string;
  /** Explicit path of web-tree-sitter.wasm. */
  runtimeWasm?: string;
}

const RUNTIME_WASM = 'web-tree-sitter.wasm';

let grammarDirectory: string | null = null;
let runtimeWasmPath: string | null = null;
let initPromise: Promise<void> | null = null;
const languages = new Map<LanguageId, Promise<Language>>();
const loaded = new Map<LanguageId, Language>();
const parsers = new Map<LanguageId, ParserType>();

/** Node's require: the CommonJS one in the bundle and under vitest, else one made from the working directory. */
function nodeRequire(): NodeJS.Require {
  return typeof require === 'function' ? require : createRequire(path.join(process.cwd(), 'package.json'));
}

/**
 * Sets where grammars are read from (null: back to node_modules). Languages already loaded stay cached: call
 * this before the first parse.
 */
export function setGrammarDirectory(dir: string | null): void {
  grammarDirectory = dir === null ? null : path.resolve(dir);
}

/**
 * The grammars esbuild.js copies next to the bundles (dist/grammars): the packaged extension has no
 * node_modules for them. Null when running from sources.
 */
function bundledGrammarDirectory(): string | null {
  const dir = path.join(__dirname, 'grammars');
  return fs.existsSync(path.join(dir, RUNTIME_WASM)) ? dir : null;
}

/** The directory grammars are read from now. */
export function getGrammarDirectory(): string {
  if (grammarDirectory) return grammarDirectory;
  const bundled = bundledGrammarDirectory();
  if (bundled) return bundled;
  try {
    return path.join(path.dirname(nodeRequire().resolve('@repomix/tree-sitter-wasms/package.json')), 'out');
  } catch {
    throw new Error(
      'no grammar directory: @repomix/tree-sitter-wasms is not installed here; call setGrammarDirectory(dir) ' +
        'with the folder holding the tree-sitter-*.wasm files',
    );
  }
}

function locateRuntimeWasm(): string {
  if (runtimeWasmPath) return runtimeWasmPath;
  for (const dir of [grammarDirectory, bundledGrammarDirectory()]) {
    const candidate = dir && path.join(dir, RUNTIME_WASM);
    if (candidate && fs.existsSync(candidate)) return candidate;
  }
  // web-tree-sitter's `exports` map lists the wasm but not package.json, so resolve the wasm itself.
  return nodeRequire().resolve(`web-tree-sitter/${RUNTIME_WASM}`);
}

/** Initialises the runtime once; later calls (and concurrent ones) share the same promise. */
export function initSyntax(options: SyntaxInitOptions = {}): Promise<void> {
  if (options.grammarDirectory !== undefined) setGrammarDirectory(options.grammarDirectory);
  if (options.runtimeWasm !== undefined) runtimeWasmPath = path.resolve(options.runtimeWasm);
  if (!initPromise) {
    let wasm = RUNTIME_WASM;
    initPromise = Promise.resolve()
      .then(() => {
        wasm = locateRuntimeWasm();
        return TreeSitter.Parser.init({
          locateFile: (file: string) => (file === RUNTIME_WASM ? wasm : path.join(path.dirname(wasm), file)),
        });
      })
      .catch((err: unknown) => {
        initPromise = null; // let a later call retry, e.g. after the grammar directory was fixed
        throw new Error(`cannot initialise web-tree-sitter from ${wasm}: ${(err as Error).message}`);
      });
  }
  return initPromise;
}

/** Loads (once) the grammar of a language. */
export function loadLanguage(id: LanguageId): Promise<Language> {
  let pending = languages.get(id);
  if (!pending) {
    let file = getLanguage(id).spec.wasm;
    pending = initSyntax()
      .then(() => {
        file = path.join(getGrammarDirectory(), file);
        return TreeSitter.Language.load(fs.readFileSync(file));
      })
      .then((language) => {
        loaded.set(id, language);
        return language;
      })
      .catch((err: unknown) => {
        languages.delete(id); // not cached: a later call may succeed (e.g. after setGrammarDirectory)
        throw new Error(`cannot load the ${id} grammar from ${file}: ${(err as Error).message}`);
      });
    languages.set(id, pending);
  }
  return pending;
}

/** Loads the grammar of each language (useful before a batch of synchronous parses). */
export async function loadLanguages(ids: Iterable<LanguageId>): Promise<void> {
  await Promise.all([...new Set(ids)].map((id) => loadLanguage(id)));
}

/** Whether the grammar of `id` is loaded (then `parseText` can run synchronously). */
export function isLanguageLoaded(id: LanguageId): boolean {
  return loaded.has(id);
}

/**
 * Parses `text`, reusing `oldTree` (already edited with `Tree.edit`) when given. The grammar must have been
 * loaded (`loadLanguage`); parsing itself is synchronous so that a document's state never interleaves.
 */
export function parseText(id: LanguageId, text: string, oldTree?: Tree | null): Tree {
  let parser = parsers.get(id);
  if (!parser) {
    const language = loaded.get(id);
    if (!language) throw new Error(`the ${id} grammar is not loaded: await loadLanguage('${id}') first`);
    parser = new TreeSitter.Parser();
    parser.setLanguage(language);
    parsers.set(id, parser);
  }
  const tree = parser.parse(text, oldTree ?? null);
  if (!tree) throw new Error(`tree-sitter returned no tree for a ${id} document`);
  return tree;
}

/** Tells a tree about an edit of its text (before it is reparsed with it as the old tree). */
export function editTree(tree: Tree, edit: TreeEditInput): void {
  tree.edit(new TreeSitter.Edit(edit));
}
