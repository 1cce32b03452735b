/** Options every command shares, parsed once, so that each command file only declares its own. */
import { type Command, Option } from 'commander';
import { Engine } from '../engine/engine';
import { PROVIDER_PREFERENCES, type ProviderPreference } from '../engine/providers';
import { CliError, progress } from './output';

export interface CommonOptions {
  model?: string;
  json?: boolean;
  provider: ProviderPreference;
  cacheDir?: string;
  verbose?: boolean;
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
    .option('-v, --verbose', 'log engine details on stderr');
}

export function loadEngine(opts: CommonOptions): Promise<Engine> {
  return Engine.load({
    modelDir: opts.model,
    provider: opts.provider,
    cacheDir: opts.cacheDir,
    log: opts.verbose ? progress : undefined,
  });
}

export function parseNumber(name: string, integer: boolean, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
      throw new CliError(`${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got "${value}"`);
    }
    return n;
  };
}
