/** Options every command shares, parsed once, so that each command file only declares its own. */
import { type Command, Option } from 'commander';
import { parseWeightBits, type WeightBits } from '../../kernels/weight-quant';
import { OPERATOR_PREFERENCES, type OperatorPreference, parseOperators } from '../engine/graph-operators';
import { ACTIVATION_PREFERENCES, type ActivationPreference, parseActivations } from '../engine/activations';
import { Engine } from '../engine/engine';
import {
  DEFAULT_INDENT_HANDLING,
  INDENT_HANDLINGS,
  type IndentHandling,
  parseIndentHandling,
} from '../engine/indented-cursor';
import {
  DEFAULT_LINE_END_HANDLING,
  LINE_END_HANDLINGS,
  type LineEndHandling,
  parseLineEndHandling,
} from '../engine/line-end-cursor';
import { PROVIDER_PREFERENCES, type ProviderPreference } from '../engine/providers';
import { CliError, progress } from './output';

export interface CommonOptions {
  model?: string;
  json?: boolean;
  provider: ProviderPreference;
  cacheDir?: string;
  verbose?: boolean;
  weightBits?: WeightBits | 'auto';
  activations?: ActivationPreference;
  operators?: OperatorPreference;
}

export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option(
      '--model <dir>',
      'Hugging Face checkpoint directory (default: the bundled coder-15m; models/tiny-coder is the fast test model)',
    )
    .option('--json', 'print one JSON object on stdout')
    .addOption(new Option('--provider <name>', 'execution provider').choices([...PROVIDER_PREFERENCES]).default('auto'))
    .option('--cache-dir <dir>', 'where graphs and the KV cache store live (default: the user cache directory)')
    .option(
      '--weight-bits <bits>',
      'projection weights: 32 = the checkpoint exactly, 8 or 4 = block-quantized; auto = by model size',
      parseWeightBitsOption,
      'auto',
    )
    .option(
      '--activations <type>',
      `activation precision inside the graph: ${ACTIVATION_PREFERENCES.join(', ')} (auto = float16 on GPU providers)`,
      flagParser('--activations', parseActivations),
      'auto',
    )
    .option(
      '--operators <set>',
      `graph operators: ${OPERATOR_PREFERENCES.join(', ')} (auto = contrib for quantized weights or a GPU provider)`,
      flagParser('--operators', parseOperators),
      'auto',
    )
    .option('-v, --verbose', 'log engine details on stderr');
}

/** A flag's value parser whose RangeError becomes a CliError naming the flag: one clear sentence, no stack. */
function flagParser<T>(flag: string, parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      throw new CliError(`${flag}: ${(err as Error).message}`);
    }
  };
}

const parseWeightBitsOption = flagParser('--weight-bits', (value): WeightBits | 'auto' =>
  value === 'auto' ? value : parseWeightBits(value),
);

export function loadEngine(opts: CommonOptions): Promise<Engine> {
  return Engine.load({
    modelDir: opts.model,
    provider: opts.provider,
    cacheDir: opts.cacheDir,
    weightBits: opts.weightBits,
    activations: opts.activations,
    operators: opts.operators,
    log: opts.verbose ? progress : undefined,
    warn: progress,
  });
}

/** `--indent off|backup|heal`: how a cursor after a line's indentation is prompted (measurement switch). */
export const parseIndent: (value: string) => IndentHandling = flagParser('--indent', parseIndentHandling);

/** `--line-end ...`: how a cursor at the end of an unfinished line is prompted (measurement switch). */
export const parseLineEnd: (value: string) => LineEndHandling = flagParser('--line-end', parseLineEndHandling);

export const LINE_END_HELP = `first token at the end of an unfinished line: ${LINE_END_HANDLINGS.join(', ')} (default ${DEFAULT_LINE_END_HANDLING})`;

export const INDENT_HELP = `prompting at a cursor after indentation: ${INDENT_HANDLINGS.join(', ')} (default ${DEFAULT_INDENT_HANDLING})`;

export function parseNumber(name: string, integer: boolean, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
      throw new CliError(`${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got "${value}"`);
    }
    return n;
  };
}
