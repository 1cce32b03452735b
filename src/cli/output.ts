/** How the CLI speaks: JSON or text on stdout, progress and errors on stderr, a non-zero exit on failure. */
import { CheckpointError } from '../engine/errors';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

export function printResult(json: boolean, result: object, text: string): void {
  process.stdout.write(json ? JSON.stringify(result) + '\n' : text.endsWith('\n') ? text : text + '\n');
}

export function progress(line: string): void {
  process.stderr.write(`repokv: ${line}\n`);
}

/**
 * One clear line by default; the stack trace only with -v, for unexpected errors (a user's mistake, such as a
 * wrong model folder, has no stack worth showing).
 */
export function reportError(err: unknown, verbose: boolean): void {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof CheckpointError || err instanceof CliError) {
    process.stderr.write(`repokv: error: ${message}\n`);
  } else if (verbose && err instanceof Error && err.stack) {
    process.stderr.write(`repokv: error: ${err.stack}\n`);
  } else {
    const line = message.split('\n')[0]!.trim();
    process.stderr.write(`repokv: error: ${line}${verbose ? '' : ' (run with -v for details)'}\n`);
  }
}
