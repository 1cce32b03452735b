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

export function reportError(err: unknown): void {
  if (err instanceof CheckpointError || err instanceof CliError) {
    process.stderr.write(`repokv: error: ${err.message}\n`);
  } else {
    process.stderr.write(`repokv: error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
}
