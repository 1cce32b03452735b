/**
 * `repokv`: the headless face of the engine. One file per command under ./commands; this file only wires them.
 * Every command takes --model (default: the bundled coder-15m) and --json (one JSON object on stdout).
 */
import '../engine/float16-workaround';
import { Command } from 'commander';
import { registerEval } from './commands/eval';
import { registerGenerate } from './commands/generate';
import { registerRepositoryCommands } from './commands/repository-commands';
import { CliError, reportError } from './output';

const program = new Command('repokv')
  .description('RepoKV: the whole repository in a compressed KV cache, on your own machine')
  .showHelpAfterError()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

registerGenerate(program);
registerRepositoryCommands(program);
registerEval(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  // Every command has -v/--verbose; the error may come before or after commander parsed it, so look at argv.
  reportError(err, process.argv.includes('-v') || process.argv.includes('--verbose'));
  process.exitCode = err instanceof CliError ? err.exitCode : 1;
});
