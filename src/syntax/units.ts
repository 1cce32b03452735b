/**
 * From a syntax tree to pieces that tile the file: one per top-level declaration (with its leading comments
 * and attributes, and the blank lines after it), imports coalesced into one block, namespaces opened; and the
 * split of an oversized piece between its members (or the statements of its body), recursively.
 *
 * Boundaries are put at the start of the line where a group's first node starts, so that whitespace between
 * declarations always belongs to the one before, and a node that starts mid-line (a trailing comment, a second
 * statement on the same line) stays with what precedes it.
 */
import type { Node, Tree } from 'web-tree-sitter';
import { declaredNames, memberNodes, signatureRange, unwrap } from './declarations';
import type { CompiledLanguage } from './languages';
import { chunkLines } from './line-chunker';
import { clipRanges, unifyKinds, type Piece, type PieceContext } from './piece';
import type { SegmentKind } from './types';

const RUBY_IMPORT_METHODS = new Set(['require', 'require_relative', 'load', 'autoload']);

export interface UnitContext extends PieceContext {
  lang: CompiledLanguage;
}

function lineStartOf(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Whether only indentation (or a byte-order mark) precedes `offset` on its line. */
function startsLine(text: string, offset: number): boolean {
  for (let i = offset - 1; i >= 0; i--) {
    const c = text[i];
    if (c === '\n') return true;
    if (c !== ' ' && c !== '\t' && c !== '\r' && c !== '\uFEFF' && c !== '\f' && c !== '\v') return false;
  }
  return true;
}

function newlinesBetween(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Groups sibling nodes: a node joins the previous group when it starts mid-line, or follows attached comments. */
function groupNodes(ctx: UnitContext, nodes: Node[]): Node[][] {
  const groups: Node[][] = [];
  for (const node of nodes) {
    if (node.endIndex <= node.startIndex) continue; // zero-width (missing) nodes carry no text
    const last = groups[groups.length - 1];
    if (last) {
      const prev = last[last.length - 1]!;
      const attached =
        last.every((n) => ctx.lang.prefixes.has(n.type)) &&
        newlinesBetween(ctx.text, prev.endIndex, node.startIndex) < 2;
      if (!startsLine(ctx.text, node.startIndex) || attached) {
        last.push(node);
        continue;
      }
    }
    groups.push([node]);
  }
  return groups;
}

function isImport(ctx: UnitContext, decl: Node): boolean {
  if (ctx.lang.imports.has(decl.type)) return true;
  if (ctx.lang.spec.id === 'ruby' && decl.type === 'call') {
    const method = decl.childForFieldName('method');
    return !decl.childForFieldName('receiver') && !!method && RUBY_IMPORT_METHODS.has(method.text);
  }
  return false;
}

/** What a group of nodes is: kind, names, protected ranges, and the declaration node for later splitting. */
function describe(ctx: UnitContext, group: Node[], qualifier: string | null): Omit<Piece, 'start' | 'end' | 'tokens'> {
  const main = group.find((n) => !ctx.lang.prefixes.has(n.type));
  if (!main) return { kind: 'comment', names: [], protected: [] };
  const decl = unwrap(main, ctx.lang);
  // PHP's `namespace X;` is an import-like statement, `namespace X { ... }` a namespace to open.
  const namespace = ctx.lang.namespaces.has(decl.type) && (memberNodes(decl)?.length ?? 0) > 0;
  if (!namespace && isImport(ctx, decl)) return { kind: 'imports', names: [], protected: [] };
  if (!namespace && !ctx.lang.declarations.has(decl.type)) {
    return { kind: qualifier === null ? 'code' : 'members', names: [], protected: [], node: decl };
  }
  const refs = declaredNames(decl);
  const prot: Array<[number, number]> = refs.map((r) => [r.start, r.end]);
  prot.push(signatureRange(main, decl, ctx.text));
  const names = refs.map((r) => (qualifier ? `${qualifier}.${r.text}` : r.text));
  const ownNames = names.length;
  if (ctx.lang.containers.has(decl.type)) {
    // A class kept whole still declares its members: their names and signatures are its API surface.
    const owner = names[0] ?? decl.type;
    for (const member of memberNodes(decl) ?? []) {
      if (ctx.lang.prefixes.has(member.type)) continue;
      const inner = unwrap(member, ctx.lang);
      if (!ctx.lang.declarations.has(inner.type)) continue;
      for (const r of declaredNames(inner)) {
        prot.push([r.start, r.end]);
        names.push(`${owner}.${r.text}`);
      }
      prot.push(signatureRange(member, inner, ctx.text));
    }
  }
  const kind = qualifier === null ? 'declaration' : 'members';
  return { kind, names, ownNames, protected: prot, node: decl };
}

interface Tile {
  start: number;
  attrs: Omit<Piece, 'start' | 'end' | 'tokens'>;
}

/**
 * Tiles `[from, to)` with the groups of `nodes`. `head` describes the text before the first group (a
 * container's opening); a group whose line start does not advance past the previous boundary is folded into
 * the previous tile.
 */
function tile(
  ctx: UnitContext,
  nodes: Node[],
  from: number,
  to: number,
  head: Tile['attrs'] | null,
  qualifier: string | null,
): Piece[] {
  const tiles: Tile[] = [];
  if (head) tiles.push({ start: from, attrs: head });
  for (const group of groupNodes(ctx, nodes)) {
    const attrs = describe(ctx, group, qualifier);
    const start = tiles.length === 0 ? from : Math.min(lineStartOf(ctx.text, group[0]!.startIndex), to);
    const last = tiles[tiles.length - 1];
    if (last && start <= last.start) {
      last.attrs = {
        kind: unifyKinds([last.attrs.kind, attrs.kind]),
        names: [...last.attrs.names, ...attrs.names],
        protected: [...last.attrs.protected, ...attrs.protected],
        // a folded tile spans several declarations: it can only be cut by lines
      };
      continue;
    }
    tiles.push({ start, attrs });
  }
  if (tiles.length === 0) tiles.push({ start: from, attrs: { kind: 'code', names: [], protected: [] } });
  const pieces: Piece[] = [];
  for (let i = 0; i < tiles.length; i++) {
    const start = tiles[i]!.start;
    const end = i + 1 < tiles.length ? tiles[i + 1]!.start : to;
    if (start >= end) continue;
    const attrs = tiles[i]!.attrs;
    const opened = attrs.node ? openNamespace(ctx, attrs, start, end) : null;
    if (opened) pieces.push(...opened);
    else pieces.push({ ...attrs, start, end, tokens: ctx.count(ctx.text.slice(start, end)) });
  }
  return coalesceImports(ctx, pieces);
}

/** A namespace's members are segmented like top-level declarations; its opening goes to the first piece. */
function openNamespace(ctx: UnitContext, attrs: Tile['attrs'], start: number, end: number): Piece[] | null {
  const node = attrs.node!;
  if (!ctx.lang.namespaces.has(node.type)) return null;
  const members = memberNodes(node);
  if (!members || members.length === 0) return null;
  const head = { kind: 'declaration' as SegmentKind, names: attrs.names, protected: attrs.protected };
  return tile(ctx, members, start, end, head, null);
}

/** Consecutive imports become one block (cut by lines later if it is over budget). */
function coalesceImports(ctx: UnitContext, pieces: Piece[]): Piece[] {
  const out: Piece[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (last && last.kind === 'imports' && p.kind === 'imports') {
      last.end = p.end;
      last.tokens = ctx.count(ctx.text.slice(last.start, last.end));
    } else {
      out.push(p);
    }
  }
  return out;
}

/** The pieces of a whole parsed file, before splitting and merging. */
export function topLevelPieces(ctx: UnitContext, tree: Tree): Piece[] {
  if (ctx.text.length === 0) return [];
  return tile(
    ctx,
    tree.rootNode.children.filter((c): c is Node => c !== null),
    0,
    ctx.text.length,
    null,
    null,
  );
}

/**
 * The block to cut a non-container node at: the first node, going down through the largest child, whose
 * children start on lines of their own (a function body, a `describe(() => {...})` callback, a UMD wrapper's
 * factory). Cutting between those statements keeps related lines together better than cutting by lines.
 */
function dominantBlock(ctx: UnitContext, node: Node): Node[] | null {
  let current = node;
  for (let depth = 0; depth < 8; depth++) {
    const kids = current.namedChildren.filter((c): c is Node => c !== null && c.endIndex > c.startIndex);
    if (kids.filter((k) => startsLine(ctx.text, k.startIndex)).length >= 2) return kids;
    let largest: Node | null = null;
    for (const k of kids)
      if (!largest || k.endIndex - k.startIndex > largest.endIndex - largest.startIndex) largest = k;
    if (!largest || 2 * (largest.endIndex - largest.startIndex) < current.endIndex - current.startIndex) return null;
    current = largest;
  }
  return null;
}

/**
 * Splits an oversized piece: between the members of its declaration when it has some, else between the
 * statements of its dominant block (recursively), else between lines. Every returned piece fits the budget.
 */
export function splitPiece(ctx: UnitContext, piece: Piece): Piece[] {
  if (piece.tokens <= ctx.maxBody) return [piece];
  const node = piece.node;
  let members: Node[] | null = null;
  if (node) members = ctx.lang.containers.has(node.type) ? memberNodes(node) : dominantBlock(ctx, node);
  if (node && members && members.length > 0) {
    const own = piece.names.slice(0, piece.ownNames ?? piece.names.length);
    const qualifier = own[0] ?? (piece.kind === 'code' ? null : node.type);
    const headKind: SegmentKind = piece.kind === 'declaration' ? 'members' : piece.kind;
    const head = { kind: headKind, names: own, protected: piece.protected };
    const parts = tile(ctx, members, piece.start, piece.end, head, qualifier);
    if (parts.length > 1) return parts.flatMap((p) => splitPiece(ctx, p));
  }
  return chunkLines(ctx, piece.start, piece.end, {
    kind: 'lines',
    names: piece.names.slice(0, piece.ownNames ?? piece.names.length),
    protected: clipRanges(piece.protected, piece.start, piece.end),
  });
}
