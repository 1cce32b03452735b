/**
 * What a declaration node declares: its names, its signature, its members. Grammar-generic rules over
 * tree-sitter fields (`name`, `declarator`, `body`, `value`...) with a few per-grammar cases, so that one
 * function serves all languages.
 */
import type { Node } from 'web-tree-sitter';
import type { CompiledLanguage } from './languages';

/** A declared name and where it is in the file (UTF-16 offsets). */
export interface NameRef {
  text: string;
  start: number;
  end: number;
}

/** Signatures longer than this are cut: a protected range must stay small next to the segment it lives in. */
export const MAX_SIGNATURE_CHARS = 240;

const IDENTIFIER_TYPES = new Set([
  'identifier',
  'field_identifier',
  'type_identifier',
  'property_identifier',
  'private_property_identifier',
  'qualified_identifier',
  'operator_name',
  'destructor_name',
  'constant',
  'name',
  'variable_name',
  'simple_identifier',
  'scope_resolution',
]);

/** Children that hold the names of a compound declaration (`const a = 1, b = 2`, Go's `const (...)`...). */
const NAME_HOLDERS = new Set([
  'variable_declarator',
  'variable_declaration',
  'const_spec',
  'var_spec',
  'var_spec_list',
  'type_spec',
  'type_alias',
  'const_element',
  'property_element',
  'static_final_declaration',
  'lexical_declaration',
]);

/** The declaration inside wrappers (`export`, decorators, `template<...>`, expression statements). */
export function unwrap(node: Node, lang: CompiledLanguage): Node {
  let current = node;
  for (let depth = 0; depth < 4 && lang.wrappers.has(current.type); depth++) {
    const inner =
      current.childForFieldName('declaration') ??
      current.childForFieldName('definition') ??
      current.namedChildren.find(
        (c) => c !== null && !lang.prefixes.has(c.type) && c.type !== 'template_parameter_list',
      ) ??
      null;
    if (!inner) break;
    current = inner;
  }
  return current;
}

function push(out: NameRef[], node: Node | null): void {
  if (!node) return;
  const text = node.text.trim();
  if (text) out.push({ text, start: node.startIndex, end: node.endIndex });
}

/** Follows C-style `declarator` chains (`*f(int)` → `f`) down to the identifier. */
function pushDeclarator(out: NameRef[], node: Node): void {
  let current = node;
  for (let depth = 0; depth < 8; depth++) {
    const next = current.childForFieldName('declarator');
    if (!next) break;
    current = next;
  }
  if (IDENTIFIER_TYPES.has(current.type)) push(out, current);
  else collect(out, current, 1);
}

function collect(out: NameRef[], node: Node, depth: number): void {
  if (depth > 4) return;
  const named = node.childrenForFieldName('name').filter((n): n is Node => n !== null);
  if (named.length > 0) {
    for (const n of named) push(out, n);
    return;
  }
  switch (node.type) {
    case 'export_clause':
      for (const spec of node.namedChildren) {
        if (spec?.type === 'export_specifier')
          push(out, spec.childForFieldName('alias') ?? spec.childForFieldName('name'));
      }
      return;
    case 'impl_item': // Rust: `impl Trait for Type` declares methods of Type
      push(out, node.childForFieldName('type'));
      return;
    case 'assignment': {
      const left = node.childForFieldName('left');
      if (left && IDENTIFIER_TYPES.has(left.type)) push(out, left);
      return;
    }
    case 'rule_set': // CSS: the selectors are the name
      push(out, node.namedChildren.find((c) => c?.type === 'selectors') ?? null);
      return;
    case 'const_element':
    case 'property_element':
    case 'variable_declarator':
    case 'static_final_declaration':
      push(out, node.namedChildren.find((c) => c !== null && IDENTIFIER_TYPES.has(c.type)) ?? null);
      return;
  }
  const declarators = node.childrenForFieldName('declarator').filter((n): n is Node => n !== null);
  for (const d of declarators) pushDeclarator(out, d);
  if (node.type === 'type_definition') {
    const type = node.childForFieldName('type');
    if (type) push(out, type.childForFieldName('name'));
  }
  if (declarators.length > 0) return;
  for (const child of node.namedChildren) {
    if (child && NAME_HOLDERS.has(child.type)) collect(out, child, depth + 1);
  }
}

/** Names declared by a (unwrapped) declaration node, in source order. */
export function declaredNames(node: Node): NameRef[] {
  const out: NameRef[] = [];
  collect(out, node, 0);
  return out.sort((a, b) => a.start - b.start);
}

/** Where the body (or initial value) of a declaration starts: the signature ends there. */
function bodyStart(node: Node): number | null {
  for (const field of ['body', 'value', 'right']) {
    const child = node.childForFieldName(field);
    if (child) return child.startIndex;
  }
  for (const child of node.namedChildren) {
    if (child && NAME_HOLDERS.has(child.type)) {
      const inner = bodyStart(child);
      if (inner !== null) return inner;
    }
  }
  return null;
}

/**
 * The signature of a declaration: from the start of `outer` (which may be a wrapper or carry decorators) to
 * the start of the body, or to the end of the first line when there is no body, trimmed and capped.
 */
export function signatureRange(outer: Node, decl: Node, text: string): [number, number] {
  const start = outer.startIndex;
  let end = bodyStart(decl) ?? decl.endIndex;
  if (bodyStart(decl) === null) {
    const newline = text.indexOf('\n', start);
    if (newline !== -1 && newline < end) end = newline;
  }
  end = Math.min(end, start + MAX_SIGNATURE_CHARS);
  while (end > start && /\s/.test(text[end - 1]!)) end--;
  return [start, end];
}

/** The member nodes of a container or namespace, or null when it has no body to open. */
export function memberNodes(node: Node): Node[] | null {
  let body = node.childForFieldName('body');
  if (!body && node.type === 'type_definition')
    body = node.childForFieldName('type')?.childForFieldName('body') ?? null;
  if (body) return body.namedChildren.filter((c): c is Node => c !== null);
  if (node.type.startsWith('preproc_')) {
    // `#ifdef NAME ... #endif`: the members are the children after the condition
    const skip = new Set([node.childForFieldName('name')?.id, node.childForFieldName('condition')?.id]);
    return node.namedChildren.filter((c): c is Node => c !== null && !skip.has(c.id));
  }
  return null;
}
