/**
 * `node dist/bench.js decode-cache`: decode-step time over the repository context held as a plain past, a KIVI
 * block and a fused block (steps.ts); with `--kernels`, one layer's block attention under each KIVI graph rewrite
 * (kernels.ts); with `--quality REPO`, the two layouts' fidelity on a real repository (quality.ts).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CACHE_CONFIG } from '../../src/cache/cache-config';
import { Engine } from '../../src/engine/engine';
import { jsonOption, modelOption } from '../common-options';
import { type KernelRow, measureBlockKernels, printKernelTable } from './kernels';
import { type DecodeCacheOptions } from './options';
import { measureLayoutQuality, parseFusedVariants, printQualityTable, type QualityReport } from './quality';
import { type DecodeCacheRow, type MachineNote, measureDecodeCache, printDecodeCacheTable } from './steps';

export { KERNEL_VARIANTS, type KernelVariant } from './kernel-graph';
export { type KernelRow, measureBlockKernels } from './kernels';
export { type DecodeCacheOptions } from './options';
export {
  type FusedVariant,
  measureLayoutQuality,
  parseFusedVariants,
  type QualityOptions,
  type QualityReport,
  type QualityRow,
} from './quality';
export { type DecodeCacheRow, measureDecodeCache, type Variant, VARIANTS } from './steps';

export function registerDecodeCacheCommand(program: Command): void {
  program
    .command('decode-cache')
    .description('decode step over plain 16-bit past vs 2-bit KIVI block vs 2-bit fused (MatMulNBits) block')
    .addOption(modelOption())
    .option('--contexts <list>', 'context lengths in tokens', '4096,16384,65536')
    .option('--steps <n>', 'measured rounds (a burst of steps of every variant each)', '15')
    .option('--burst <n>', 'consecutive steps per variant and round (the first one is not counted)', '4')
    .option('--bits <n>', 'bits of keys and values (2, 4, 8)', '2')
    .option('--group-size <n>', 'KIVI group size', '32')
    .option('--key-block <n>', 'fused layout: channels per key block', '64')
    .option('--value-block <n>', 'fused layout: tokens per value block', '64')
    .option('--segment-tokens <n>', 'tokens per synthetic segment', '512')
    .option('--threads <n>', "intra-op threads of every session (default: onnxruntime's)")
    .option('--kernels', "also time one layer's block attention under each KIVI graph rewrite")
    .option('--quality <repo>', 'also compare the layouts on a repository (long-file protocol)')
    .option('--quality-configs <list>', 'eval configurations for --quality', 'q2,q2-evict50')
    .option(
      '--fused-variants <list>',
      'fused variants for --quality: center|raw:α',
      'center:0.5,center:0,raw:0.5,raw:0',
    )
    .option('--no-center-keys', 'fused layout without key centering (decode timing)')
    .option('--no-rotate', 'fused layout without the Hadamard rotation (decode timing)')
    .option('--max-files <n>', 'files for --quality', '20')
    .addOption(jsonOption())
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const num = (k: string) => Number(o[k]);
      const threads = o.threads ? Number(o.threads) : undefined;
      const engine = await Engine.load({ modelDir: o.model as string | undefined, provider: 'cpu', threads });
      const opts: DecodeCacheOptions = {
        contexts: String(o.contexts).split(',').map(Number),
        steps: num('steps'),
        burst: num('burst'),
        bits: num('bits') as 2 | 4 | 8,
        groupSize: num('groupSize'),
        keyBlock: num('keyBlock'),
        valueBlock: num('valueBlock'),
        segmentTokens: num('segmentTokens'),
        centerKeys: o.centerKeys !== false,
        rotate: o.rotate !== false,
        threads,
        log: (l) => console.error(l),
      };
      const result: { rows: DecodeCacheRow[]; kernels?: KernelRow[]; quality?: QualityReport } & MachineNote = {
        rows: await measureDecodeCache(engine, opts),
        threads: threads ?? 0,
        cpus: os.availableParallelism(),
        load: os.loadavg(),
      };
      if (o.kernels) result.kernels = await measureBlockKernels(engine, opts);
      if (o.quality) {
        result.quality = await measureLayoutQuality(engine, path.resolve(String(o.quality)), {
          configs: String(o.qualityConfigs).split(','),
          prefixTokens: 768,
          targetTokens: 256,
          localTokens: 32,
          maxFiles: num('maxFiles'),
          keyBlock: opts.keyBlock,
          valueBlock: opts.valueBlock,
          fusedVariants: parseFusedVariants(String(o.fusedVariants)),
          // Keys after rotary in both layouts: the fused layout quantizes post-rotary keys, so compare like with like.
          base: { ...DEFAULT_CACHE_CONFIG, preRopeKeys: false, quantLayout: 'kivi' },
          log: opts.log,
        });
      }
      await engine.dispose();
      if (o.json) {
        console.log(JSON.stringify(result));
        return;
      }
      printDecodeCacheTable(result.rows, opts, result);
      if (result.kernels) printKernelTable(result.kernels);
      if (result.quality) printQualityTable(result.quality);
    });
}
