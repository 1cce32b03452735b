/**
 * The cache flags every cache-using command accepts (DESIGN section 7), with the same meaning as the
 * `repokv.cache.*` settings, turned into a CacheConfig over the defaults.
 */
import { type Command, Option } from 'commander';
import { type Bits, type CacheConfig, DEFAULT_CACHE_CONFIG } from '../cache/cache-config';
import { parseNumber } from './common-options';
import { CliError } from './output';

export interface CacheFlagValues {
  kvBits?: string;
  kBits?: string;
  vBits?: string;
  groupSize?: number;
  valueBlock?: number;
  sinkTokens?: number;
  keepRatio?: number;
  eviction?: CacheConfig['eviction'];
  window?: number;
  layerBudget?: CacheConfig['layerBudget'];
  layout?: CacheConfig['layout'];
  protectLayers?: string;
  contextBudget?: number;
  aggregation?: CacheConfig['aggregation'];
  headMeanClamp?: boolean;
  keyRotary?: 'pre' | 'post';
  quantLayout?: CacheConfig['quantLayout'];
  apeTemperature?: number;
  apeScale?: number;
  kvRotation?: CacheConfig['kvRotation'];
  rangeSearch?: CacheConfig['rangeSearch'];
}

const BITS = ['2', '4', '8', '16'];

export function addCacheFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--kv-bits <n>', 'bits for keys and values').choices(BITS))
    .addOption(new Option('--k-bits <n>', 'bits for keys').choices(BITS))
    .addOption(new Option('--v-bits <n>', 'bits for values').choices(BITS))
    .option('--group-size <n>', 'quantization group size', parseNumber('--group-size', true, 1))
    .option('--value-block <n>', 'fused layout: tokens per value block', parseNumber('--value-block', true, 16))
    .option('--sink-tokens <n>', 'full-precision sink tokens', parseNumber('--sink-tokens', true, 0))
    .option('--keep-ratio <f>', 'fraction of segment tokens kept', parseNumber('--keep-ratio', false, 0))
    .addOption(new Option('--eviction <policy>', 'eviction policy').choices(['none', 'snapkv', 'defensive', 'h2o']))
    .option('--window <n>', 'observation window', parseNumber('--window', true, 1))
    .addOption(
      new Option('--layer-budget <mode>', 'budget allocation').choices([
        'uniform',
        'pyramid',
        'pyramid-up',
        'adaptive',
        'joint',
      ]),
    )
    .addOption(new Option('--layout <layout>', 'segment positions at query time').choices(['parallel', 'sequential']))
    .option('--protect-layers <list>', 'auto | none | comma-separated layer indices')
    .option('--context-budget <n>', 'repository tokens attended per query', parseNumber('--context-budget', true, 1))
    .addOption(new Option('--aggregation <mode>', 'window aggregation').choices(['max', 'mean']))
    .option('--head-mean-clamp', 'DefensiveKV prior-risk correction in the defensive scorer')
    .addOption(new Option('--key-rotary <when>', 'quantize keys before or after rotary').choices(['pre', 'post']))
    .addOption(
      new Option(
        '--quant-layout <layout>',
        'storage of the 2-bit cache: fused (MatMulNBits) where possible, or KIVI',
      ).choices(['auto', 'kivi', 'fused']),
    )
    .option(
      '--ape-temperature <t>',
      'APE temperature on segment attention',
      parseNumber('--ape-temperature', false, 0.01),
    )
    .option('--ape-scale <s>', 'APE scaling factor on segment attention', parseNumber('--ape-scale', false, 0.01))
    .addOption(
      new Option('--kv-rotation <r>', 'fused layout: Hadamard-rotate stored keys and values').choices([
        'none',
        'hadamard',
      ]),
    )
    .addOption(
      new Option('--range-search <r>', "each quantization group's range: min–max or least squared error").choices([
        'minmax',
        'mse',
      ]),
    );
}

export function cacheConfigFromFlags(flags: CacheFlagValues): CacheConfig {
  const config: CacheConfig = { ...DEFAULT_CACHE_CONFIG };
  const bits = (v: string) => Number(v) as Bits;
  if (flags.kvBits) config.kBits = config.vBits = bits(flags.kvBits);
  if (flags.kBits) config.kBits = bits(flags.kBits);
  if (flags.vBits) config.vBits = bits(flags.vBits);
  if (flags.groupSize !== undefined) config.groupSize = flags.groupSize;
  if (flags.valueBlock !== undefined) config.valueBlock = flags.valueBlock;
  if (flags.sinkTokens !== undefined) config.sinkTokens = flags.sinkTokens;
  if (flags.keepRatio !== undefined) {
    if (flags.keepRatio > 1) throw new CliError('--keep-ratio must be between 0 and 1');
    config.keepRatio = flags.keepRatio;
  }
  if (flags.eviction) config.eviction = flags.eviction;
  if (flags.window !== undefined) config.window = flags.window;
  if (flags.layerBudget) config.layerBudget = flags.layerBudget;
  if (flags.layout) config.layout = flags.layout;
  if (flags.contextBudget !== undefined) config.contextBudget = flags.contextBudget;
  if (flags.aggregation) config.aggregation = flags.aggregation;
  if (flags.headMeanClamp) config.headMeanClamp = true;
  if (flags.keyRotary) config.preRopeKeys = flags.keyRotary === 'pre';
  if (flags.kvRotation) config.kvRotation = flags.kvRotation;
  if (flags.rangeSearch) config.rangeSearch = flags.rangeSearch;
  if (flags.quantLayout) config.quantLayout = flags.quantLayout;
  if (flags.apeTemperature !== undefined) config.apeTemperature = flags.apeTemperature;
  if (flags.apeScale !== undefined) config.apeScale = flags.apeScale;
  if (flags.protectLayers) {
    const p = flags.protectLayers.trim();
    if (p === 'auto' || p === 'none') config.protectLayers = p;
    else {
      const layers = p.split(',').map(Number);
      if (layers.some((n) => !Number.isInteger(n))) {
        throw new CliError(`--protect-layers must be auto, none or a list of layer indices (−1 = last), got "${p}"`);
      }
      config.protectLayers = layers;
    }
  }
  return config;
}
