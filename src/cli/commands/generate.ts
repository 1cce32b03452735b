/** `repokv generate`: plain text generation from a prompt, the engine's smoke test and golden check. */
import type { Command } from 'commander';
import * as fs from 'node:fs';
import { addCommonOptions, type CommonOptions, loadEngine, parseNumber } from '../common-options';
import { CliError, printResult } from '../output';

interface GenerateCliOptions extends CommonOptions {
  prompt?: string;
  promptFile?: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  stream?: boolean;
}

export function registerGenerate(program: Command): void {
  addCommonOptions(
    program
      .command('generate')
      .description('continue a prompt with the model')
      .option('--prompt <text>', 'prompt text')
      .option('--prompt-file <file>', 'read the prompt from a file')
      .option('--max-tokens <n>', 'tokens to generate', parseNumber('--max-tokens', true, 1), 128)
      .option('--temperature <t>', '0 = greedy', parseNumber('--temperature', false, 0), 0)
      .option('--top-p <p>', 'nucleus sampling mass', parseNumber('--top-p', false, 0), 1)
      .option('--seed <n>', 'sampling seed', parseNumber('--seed', true, 0), 0)
      .option('--stream', 'print text as it is generated (text mode only)'),
  ).action(async (opts: GenerateCliOptions) => {
    if ((opts.prompt === undefined) === (opts.promptFile === undefined)) {
      throw new CliError('give exactly one of --prompt or --prompt-file');
    }
    const prompt = opts.prompt ?? readPromptFile(opts.promptFile!);
    const engine = await loadEngine(opts);
    try {
      const started = performance.now();
      const streaming = opts.stream && !opts.json;
      const result = await engine.generateText(prompt, {
        maxTokens: opts.maxTokens,
        temperature: opts.temperature,
        topP: opts.topP,
        seed: opts.seed,
        onText: streaming ? (t) => process.stdout.write(t) : undefined,
      });
      const ms = Math.round(performance.now() - started);
      const json = { text: result.text, tokens: result.tokenIds.length, promptTokens: result.promptTokens, ms };
      if (streaming) process.stdout.write('\n');
      else printResult(!!opts.json, json, result.text);
    } finally {
      await engine.dispose();
    }
  });
}

function readPromptFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read --prompt-file ${file}: ${(err as Error).message}`);
  }
}
