/**
 * Which grammar parses a file, and which node types of that grammar matter for segmentation.
 *
 * The node type names were read off real parses of the fixtures in test/fixtures/syntax with the grammars of
 * @repomix/tree-sitter-wasms 0.1.17; a type missing here is not an error, the node then becomes a `code` unit
 * and is still covered, merged and split like any other.
 */
import { SPECS } from './language-specs';

export type LanguageId =
  | 'typescript'
  | 'tsx'
  | 'javascript'
  | 'python'
  | 'go'
  | 'rust'
  | 'java'
  | 'c'
  | 'cpp'
  | 'csharp'
  | 'ruby'
  | 'php'
  | 'css'
  | 'swift'
  | 'dart'
  | 'solidity';

export interface LanguageSpec {
  id: LanguageId;
  /** File name of the grammar in the grammar directory. */
  wasm: string;
  extensions: string[];
  /** Whole file names (no extension) that use this language, e.g. `Rakefile`. */
  fileNames?: string[];
  /** Statements that form the imports block (package clauses included: they open it). */
  imports: string[];
  /** Declarations: they get a name, a protected signature and the `declaration` kind. */
  declarations: string[];
  /** Nodes wrapping one declaration (export, decorators, templates): kind and name come from inside. */
  wrappers: string[];
  /** Declarations with members: split between members when too large for one segment. */
  containers: string[];
  /**
   * Namespaces: always opened, their members segmented as if they were top-level, because a namespace often
   * wraps the whole file and one segment per file would make every edit re-prefill all of it.
   */
  namespaces: string[];
  /** Nodes that belong to the declaration after them (comments, attributes) when no blank line separates them. */
  prefixes: string[];
}

/** A spec with its type lists turned into sets, as the segmenter looks them up per node. */
export interface CompiledLanguage {
  spec: LanguageSpec;
  imports: ReadonlySet<string>;
  declarations: ReadonlySet<string>;
  wrappers: ReadonlySet<string>;
  containers: ReadonlySet<string>;
  namespaces: ReadonlySet<string>;
  prefixes: ReadonlySet<string>;
}

const byId = new Map<LanguageId, CompiledLanguage>();
const byExtension = new Map<string, LanguageId>();
const byFileName = new Map<string, LanguageId>();
for (const spec of SPECS) {
  byId.set(spec.id, {
    spec,
    imports: new Set(spec.imports),
    declarations: new Set(spec.declarations),
    wrappers: new Set(spec.wrappers),
    containers: new Set(spec.containers),
    namespaces: new Set(spec.namespaces),
    prefixes: new Set(spec.prefixes),
  });
  for (const ext of spec.extensions) byExtension.set(ext, spec.id);
  for (const name of spec.fileNames ?? []) byFileName.set(name, spec.id);
}

export const LANGUAGE_IDS: readonly LanguageId[] = SPECS.map((s) => s.id);

export function getLanguage(id: LanguageId): CompiledLanguage {
  const lang = byId.get(id);
  if (!lang) throw new Error(`unknown language '${id}'`);
  return lang;
}

/** The language of a path by its extension or file name, or null: such files go to the line chunker. */
export function languageForPath(path: string): LanguageId | null {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const named = byFileName.get(base);
  if (named) return named;
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return null;
  return byExtension.get(base.slice(dot).toLowerCase()) ?? null;
}
