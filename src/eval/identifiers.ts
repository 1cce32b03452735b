/**
 * What a source file declares and which identifiers it uses, read off its tree-sitter tree: the raw material
 * of cross-file next-line tasks (make-tasks.ts).
 *
 * Declarations come from the syntax layer's own rules (`unwrap`, `declaredNames`), so tasks and segments agree
 * on what a top-level name is. Uses are identifier leaves, not regex matches: an identifier inside a string or
 * a comment is not a use.
 */
import type { Node, Tree, TreeCursor } from 'web-tree-sitter';
import { declaredNames, unwrap } from '../syntax/declarations';
import { TS_NAMED_DECLARATIONS } from '../syntax/language-specs';
import { getLanguage, type LanguageId } from '../syntax/languages';

/**
 * TS/JS declarations another file can refer to wherever they appear at top level (exported or not: CommonJS
 * exports them by assignment). In other languages every top-level declaration counts, Python's module-level
 * assignments included, since any module can import them.
 */
const SCRIPT_DEFINITIONS = new Set(TS_NAMED_DECLARATIONS);

/** JS/TS variable declarations: shared only when exported (`export const`, or listed in `export {...}`). */
const VARIABLE_TYPES = new Set(['lexical_declaration', 'variable_declaration']);
const SCRIPT_LANGUAGES = new Set<LanguageId>(['typescript', 'tsx', 'javascript']);

/**
 * Keywords and builtins of the task languages. The compound rule already drops most keywords; this list is
 * for the compound builtins (`TypeError`, `setTimeout`, `hasOwnProperty`...), which a file may shadow but a use
 * of which almost always means the builtin, not the other file's definition.
 */
const RESERVED = new Set(
  `
  abstract async await boolean break case catch class const constructor continue debugger declare default delete do
  else enum export extends false finally for from function get global if implements import in infer instanceof
  interface keyof let module namespace never new null number object of package private protected public readonly
  require return satisfies set static string super switch symbol this throw true try type typeof undefined unique
  unknown var void while with yield and as assert def del elif except is lambda nonlocal not or pass raise None True
  False self cls print isinstance issubclass hasattr getattr setattr delattr classmethod staticmethod property
  NotImplemented NotImplementedError StopIteration StopAsyncIteration KeyboardInterrupt SystemExit BaseException
  BaseExceptionGroup ExceptionGroup ValueError TypeError KeyError IndexError AttributeError RuntimeError OSError
  IOError EOFError ImportError ModuleNotFoundError LookupError NameError UnboundLocalError ZeroDivisionError
  ArithmeticError OverflowError AssertionError RecursionError TimeoutError ConnectionError ConnectionResetError
  ConnectionAbortedError ConnectionRefusedError BrokenPipeError BlockingIOError ChildProcessError FileExistsError
  FileNotFoundError InterruptedError IsADirectoryError NotADirectoryError PermissionError ProcessLookupError
  UnicodeError UnicodeDecodeError UnicodeEncodeError SyntaxError IndentationError SystemError MemoryError
  BufferError ReferenceError FloatingPointError GeneratorExit DeprecationWarning RuntimeWarning UserWarning
  ResourceWarning FutureWarning PendingDeprecationWarning RangeError EvalError URIError AggregateError ArrayBuffer
  SharedArrayBuffer DataView Int8Array Uint8Array Uint8ClampedArray Int16Array Uint16Array Int32Array Uint32Array
  Float32Array Float64Array BigInt64Array BigUint64Array WeakMap WeakSet WeakRef FinalizationRegistry BigInt
  globalThis parseInt parseFloat isNaN isFinite encodeURI encodeURIComponent decodeURI decodeURIComponent
  setTimeout setInterval clearTimeout clearInterval setImmediate clearImmediate queueMicrotask structuredClone
  TextEncoder TextDecoder AbortController AbortSignal EventEmitter ReadonlyArray ReadonlyMap ReadonlySet
  PropertyKey PropertyDescriptor ReturnType InstanceType NonNullable ConstructorParameters ThisParameterType
  OmitThisParameter ThisType PromiseLike ArrayLike IterableIterator AsyncIterable AsyncIterableIterator
  AsyncGenerator TemplateStringsArray hasOwnProperty toString valueOf isPrototypeOf propertyIsEnumerable
  toLocaleString forEach indexOf lastIndexOf startsWith endsWith toUpperCase toLowerCase charAt charCodeAt
  fromCharCode codePointAt padStart padEnd trimStart trimEnd flatMap findIndex findLast findLastIndex
  getOwnPropertyNames getOwnPropertyDescriptor getOwnPropertySymbols getPrototypeOf setPrototypeOf
  defineProperty isArray fromEntries toFixed isInteger isSafeInteger MAX_SAFE_INTEGER MIN_SAFE_INTEGER
  POSITIVE_INFINITY NEGATIVE_INFINITY toJSON toISOString getTime asyncIterator hasInstance toStringTag
  captureStackTrace stackTraceLimit localeCompare
`
    .split(/\s+/)
    .filter(Boolean),
);

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Whether a name is specific enough that a use of it points at its definition: an identifier of at least 4
 * characters, compound (camelCase/PascalCase with two humps, or snake_case: one-word names like `Command` or
 * `parse` are too generic), not a dunder, not a keyword or builtin.
 */
export function isSpecificIdentifier(name: string): boolean {
  if (name.length < 4 || !IDENTIFIER.test(name) || RESERVED.has(name)) return false;
  if (/^__.*__$/.test(name)) return false;
  return /[a-z0-9][A-Z]/.test(name) || /[A-Za-z0-9]_[A-Za-z0-9]/.test(name);
}

/** Offsets where each line starts (line `i` is `text.slice(starts[i], starts[i + 1] - 1)`, minus a `\r`). */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** The zero-based line holding `offset` (binary search over `lineStarts`). */
export function lineOf(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Offset of the first non-blank character of line `i` (or its end when the line is blank). */
export function contentStart(text: string, starts: readonly number[], i: number): number {
  let at = starts[i]!;
  while (text[at] === ' ' || text[at] === '\t') at++;
  return at;
}

/**
 * How an identifier node refers to its name. Only `plain` and `via-import` uses refer to a top-level name of
 * another file: `binding` declares a name of its own (a local, a parameter, a member, an object key), and
 * `member` is a property of some object (`this.createTask`), which a same-named top-level function is not.
 */
export type UseRole = 'plain' | 'via-import' | 'member' | 'binding';

export interface IdentifierUse {
  name: string;
  start: number;
  role: UseRole;
}

export interface FileAnalysis {
  /** Every name declared at top level, of any kind (also local constants): "defined in this file". */
  declared: Set<string>;
  /** The top-level names other files can use: functions, classes, interfaces, types, enums, exported constants. */
  shared: Set<string>;
  /** Names bound by imports (module namespaces such as `core` in `import * as core`, `events` in `from . import events`). */
  imported: Set<string>;
  /** The first identifier node of each name outside imports, in source order. */
  firstUses: IdentifierUse[];
  /** Lines that cannot be tasks: imports/requires/re-exports, lines starting in a comment or inside a string. */
  excludedLines: Set<number>;
}

const IMPORT_CALL = /\b(?:require|import)\s*\(/;

/** Declarations of one file (its top-level statements, through export/decorator wrappers). */
function declarations(tree: Tree, language: LanguageId, out: Omit<FileAnalysis, 'firstUses' | 'excludedLines'>): void {
  const { declared, shared, imported } = out;
  const lang = getLanguage(language);
  const script = SCRIPT_LANGUAGES.has(language);
  const variables: string[] = [];
  const exportedLocally = new Set<string>();
  for (const node of tree.rootNode.namedChildren) {
    if (!node) continue;
    const exported = node.type === 'export_statement';
    if (exported && node.childForFieldName('source')) continue; // a re-export: an import, not a definition
    const decl = unwrap(node, lang);
    if (decl.type === 'export_clause') {
      // `export { a, b as c }`: local names made public (the alias is what importers see)
      for (const spec of decl.namedChildren) {
        for (const field of ['name', 'alias']) {
          const n = spec?.childForFieldName(field);
          if (n) exportedLocally.add(n.text);
        }
      }
      continue;
    }
    if (!lang.declarations.has(decl.type)) continue;
    if (script && VARIABLE_TYPES.has(decl.type) && IMPORT_CALL.test(decl.text)) {
      // `const util = require('./util')`: a CommonJS import
      for (const n of decl.descendantsOfType(['identifier', 'shorthand_property_identifier_pattern']))
        imported.add(n.text);
      continue;
    }
    const names = declaredNames(decl)
      .map((r) => r.text)
      .filter((n) => IDENTIFIER.test(n));
    for (const n of names) declared.add(n);
    if (script && VARIABLE_TYPES.has(decl.type)) {
      if (exported) names.forEach((n) => shared.add(n));
      else variables.push(...names);
    } else if (!script || SCRIPT_DEFINITIONS.has(decl.type)) {
      names.forEach((n) => shared.add(n));
    }
  }
  for (const n of variables) if (exportedLocally.has(n)) shared.add(n);
}

/** Depth-first walk with a cursor; `visit` returns whether to enter the node. */
function walk(tree: Tree, visit: (cursor: TreeCursor) => boolean): void {
  const cursor = tree.walk();
  try {
    for (;;) {
      if (visit(cursor) && cursor.gotoFirstChild()) continue;
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) return;
      }
    }
  } finally {
    cursor.delete();
  }
}

const isIdentifierType = (type: string): boolean =>
  type.includes('identifier') || type === 'constant' || type === 'name';
const same = (a: Node | null, b: Node): boolean => a !== null && a.equals(b);
/** Parents whose identifier children all bind names (parameter lists, destructuring patterns). */
const BINDING_PARENTS =
  /^(formal_parameters|parameters|lambda_parameters|rest_pattern|list_splat_pattern|dictionary_splat_pattern|typed_parameter|object_pattern|array_pattern|pattern_list|tuple_pattern|pair_pattern)$/;

function roleOf(node: Node, imported: ReadonlySet<string>): UseRole {
  const parent = node.parent;
  if (!parent) return 'plain';
  // `core.X`, `events.x`, `this.x`, `obj.x` (expressions), `core.X` (types: nested_type_identifier's module)
  const qualifier = parent.childForFieldName('object') ?? parent.childForFieldName('module');
  if (qualifier && !qualifier.equals(node)) {
    return qualifier.type === 'identifier' && imported.has(qualifier.text) ? 'via-import' : 'member';
  }
  if (node.type === 'shorthand_property_identifier_pattern' || BINDING_PARENTS.test(parent.type)) return 'binding';
  for (const field of ['name', 'key', 'pattern', 'alias']) {
    if (same(parent.childForFieldName(field), node)) return 'binding';
  }
  if (/assignment|for/.test(parent.type) && same(parent.childForFieldName('left'), node)) return 'binding';
  return 'plain';
}

/** Analyses one parsed file. `text` must be the text `tree` was parsed from (the tree must still be alive). */
export function analyzeFile(text: string, language: LanguageId, tree: Tree): FileAnalysis {
  const out: FileAnalysis = {
    declared: new Set(),
    shared: new Set(),
    imported: new Set(),
    firstUses: [],
    excludedLines: new Set(),
  };
  declarations(tree, language, out);

  const lang = getLanguage(language);
  const starts = lineStarts(text);
  /** Excludes lines of [from, to): all of them, or those whose content starts inside (or strictly after `from`). */
  const exclude = (from: number, to: number, which: 'all' | 'content-in' | 'content-after'): void => {
    const last = lineOf(starts, Math.max(from, to - 1));
    for (let l = lineOf(starts, from); l <= last; l++) {
      const c = contentStart(text, starts, l);
      if (which === 'all' || (c < to && (which === 'content-in' ? c >= from : c > from))) out.excludedLines.add(l);
    }
  };

  const first = new Map<string, Node>();
  walk(tree, (cursor) => {
    const type = cursor.nodeType;
    const { startIndex: from, endIndex: to } = cursor;
    if (lang.imports.has(type) || (type === 'export_statement' && cursor.currentNode.childForFieldName('source'))) {
      exclude(from, to, 'all');
      for (const n of cursor.currentNode.descendantsOfType('identifier')) out.imported.add(n.text);
      return false;
    }
    if (type.includes('comment')) {
      exclude(from, to, 'content-in');
      return false;
    }
    // a line that continues a multi-line string (docstring, template literal) is not a line of code
    if (type.includes('string') && text.lastIndexOf('\n', to - 1) >= from) exclude(from, to, 'content-after');
    // compound identifier nodes (`a.b` in some grammars) never equal a plain name: no leaf test needed
    if (cursor.nodeIsNamed && isIdentifierType(type) && to > from) {
      const name = text.slice(from, to);
      if (!first.has(name)) first.set(name, cursor.currentNode);
    }
    return true;
  });
  // roles once all imports are known (Python may import inside a function, after a use elsewhere)
  for (const [name, node] of first)
    out.firstUses.push({ name, start: node.startIndex, role: roleOf(node, out.imported) });

  starts.forEach((s, l) => {
    const end = l + 1 < starts.length ? starts[l + 1]! - 1 : text.length;
    if (IMPORT_CALL.test(text.slice(s, end))) out.excludedLines.add(l);
  });
  return out;
}
