import { languageInfo, type LanguageInfo } from './languages';

/** Where the suggestion goes: everything the post-processor may look at besides the model's text. */
export interface CompletionContext {
  /** Text before the cursor on the cursor's line. */
  readonly linePrefix: string;
  /** Text after the cursor on the cursor's line. */
  readonly lineSuffix: string;
  /** The document lines after the cursor's line (a window of them is enough, ~20). */
  readonly followingLines: readonly string[];
  /** The document's indentation unit: `'\t'` or a run of spaces. */
  readonly indentUnit: string;
  /** VS Code language id of the document. */
  readonly languageId: string;
  /** Columns per tab; defaults to the unit's width for space-indented documents and 4 for tab-indented ones. */
  readonly tabSize?: number;
  /** The longest suggestion, in lines. */
  readonly maxLines?: number;
}

/** The context with defaults filled in and the language looked up once, as every step receives it. */
export interface StepContext extends CompletionContext {
  readonly lang: LanguageInfo;
  readonly tabSize: number;
  readonly maxLines: number;
  /** Width of one indentation level in columns. */
  readonly unitWidth: number;
}

export const DEFAULT_MAX_LINES = 16;

export function resolveContext(ctx: CompletionContext): StepContext {
  const usesTabs = ctx.indentUnit === '\t';
  const tabSize = ctx.tabSize && ctx.tabSize > 0 ? ctx.tabSize : usesTabs ? 4 : Math.max(1, ctx.indentUnit.length);
  return {
    ...ctx,
    lang: languageInfo(ctx.languageId),
    tabSize,
    maxLines: ctx.maxLines && ctx.maxLines > 0 ? ctx.maxLines : DEFAULT_MAX_LINES,
    unitWidth: usesTabs ? tabSize : Math.max(1, ctx.indentUnit.length),
  };
}
