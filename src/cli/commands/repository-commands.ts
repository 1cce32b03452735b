/** `repokv index | complete | chat | stats`: the repository cache, headless. */
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cacheStatistics } from '../../cache/repository-stats';
import { addCacheFlags, type CacheFlagValues, cacheConfigFromFlags } from '../cache-flags';
import type { IndentHandling } from '../../engine/indented-cursor';
import type { LineEndHandling } from '../../engine/line-end-cursor';
import {
  addCommonOptions,
  type CommonOptions,
  INDENT_HELP,
  LINE_END_HELP,
  parseIndent,
  parseLineEnd,
  parseNumber,
} from '../common-options';
import { CliError, printResult } from '../output';
import { closeRepository, openRepository } from '../repository';

type RepoOptions = CommonOptions & CacheFlagValues;

function repoCommand(program: Command, name: string, description: string): Command {
  return addCacheFlags(addCommonOptions(program.command(`${name} <repo>`).description(description)));
}

export function registerRepositoryCommands(program: Command): void {
  repoCommand(program, 'index', 'prefill the whole repository into the compressed cache').action(
    async (repo: string, opts: RepoOptions) => {
      const started = performance.now();
      const cache = await openRepository(repo, opts, cacheConfigFromFlags(opts), true);
      try {
        const s = await cacheStatistics(cache, 0);
        const result = {
          files: s.files,
          segments: s.segments,
          tokens: s.tokens,
          keptTokens: s.keptTokens,
          bytes: s.bytes,
          bytesPerToken: s.bytesPerToken,
          fp16BytesPerToken: s.fp16BytesPerToken,
          compressionRatio: s.compressionRatio,
          seconds: (performance.now() - started) / 1000,
          skipped: s.skipped,
          hits: s.hits,
          misses: s.misses,
          peakRssBytes: process.resourceUsage().maxRSS * 1024,
        };
        printResult(
          !!opts.json,
          result,
          `${result.files} files, ${result.segments} segments, ${result.tokens} tokens (${result.keptTokens} kept), ` +
            `${(result.bytes / 1048576).toFixed(2)} MiB, ${result.bytesPerToken.toFixed(1)} B/token ` +
            `(${result.compressionRatio.toFixed(1)}x smaller than fp16), ${result.seconds.toFixed(1)} s; ` +
            `${result.skipped.length} files skipped`,
        );
      } finally {
        await closeRepository(cache);
      }
    },
  );

  repoCommand(program, 'stats', 'statistics of the stored cache of a repository (nothing is prefilled)').action(
    async (repo: string, opts: RepoOptions) => {
      const cache = await openRepository(repo, opts, cacheConfigFromFlags(opts), false);
      try {
        // Only what the store already holds is counted: load it without prefilling anything.
        cache.loadStored();
        const s = await cacheStatistics(cache);
        const { bytesPerFile: _perFile, ...summary } = s;
        printResult(
          !!opts.json,
          summary,
          `${s.files} files, ${s.segments} segments, ${s.tokens} tokens cached (${s.keptTokens} kept), ` +
            `${(s.bytes / 1048576).toFixed(2)} MiB, ratio ${s.compressionRatio.toFixed(1)}x vs fp16, provider ${s.provider}\n` +
            `key bits per layer ${s.keyBitsPerLayer.join(' ')}; key error ${s.quantError.keys.map((e) => e.toFixed(3)).join(' ')}; ` +
            `value error ${s.quantError.values.map((e) => e.toFixed(3)).join(' ')}`,
        );
      } finally {
        await closeRepository(cache);
      }
    },
  );

  repoCommand(program, 'complete', 'fill in the middle at a position of a file, with the repository cached')
    .requiredOption('--file <rel>', 'file, relative to the repository')
    .requiredOption('--line <n>', 'zero-based line', parseNumber('--line', true, 0))
    .requiredOption('--character <n>', 'zero-based character', parseNumber('--character', true, 0))
    .option('--max-tokens <n>', 'tokens to generate', parseNumber('--max-tokens', true, 1), 64)
    .option('--no-repository', 'ignore the repository cache (current file only)')
    .option('--indent <mode>', INDENT_HELP, parseIndent)
    .option('--line-end <mode>', LINE_END_HELP, parseLineEnd)
    .action(
      async (
        repo: string,
        opts: RepoOptions & {
          file: string;
          line: number;
          character: number;
          maxTokens: number;
          repository: boolean;
          indent?: IndentHandling;
          lineEnd?: LineEndHandling;
        },
      ) => {
        const file = path.resolve(repo, opts.file);
        if (!fs.existsSync(file)) throw new CliError(`no such file in the repository: ${opts.file}`);
        const cache = await openRepository(repo, opts, cacheConfigFromFlags(opts), opts.repository);
        try {
          const rel = path.relative(path.resolve(repo), file).split(path.sep).join('/');
          let result;
          try {
            result = await cache.complete({
              path: rel,
              text: fs.readFileSync(file, 'utf8'),
              line: opts.line,
              character: opts.character,
              maxTokens: opts.maxTokens,
              useRepository: opts.repository,
              indent: opts.indent,
              lineEnd: opts.lineEnd,
            });
          } catch (err) {
            if (err instanceof RangeError) throw new CliError(err.message);
            throw err;
          }
          printResult(!!opts.json, result, result.text);
        } finally {
          await closeRepository(cache);
        }
      },
    );

  repoCommand(program, 'chat', 'ask about the repository')
    .requiredOption('--message <text>', 'the question')
    .option('--max-tokens <n>', 'tokens to generate', parseNumber('--max-tokens', true, 1), 256)
    .action(async (repo: string, opts: RepoOptions & { message: string; maxTokens: number }) => {
      const cache = await openRepository(repo, opts, cacheConfigFromFlags(opts), true);
      try {
        const result = await cache.chat([{ role: 'user', content: opts.message }], [], opts.maxTokens);
        printResult(!!opts.json, { text: result.text, tokens: result.tokens, ms: result.ms }, result.text);
      } finally {
        await closeRepository(cache);
      }
    });
}
