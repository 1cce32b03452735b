/**
 * Policies as compositions of the scorer's steps (DESIGN section 3): the table a reader checks to see what
 * `--eviction` means, and the starting point of every ablation (override one field, keep the rest).
 *
 * - `none`: keep everything.
 * - `snapkv` (arXiv 2404.14469): pool → mean → allocate. SnapKV is defined by its mean, so `config.aggregation`
 *   does not apply to it.
 * - `defensive` (arXiv 2510.13334): pool → aggregate (`config.aggregation`, default max) → clamp to the head
 *   mean when `config.headMeanClamp` (off by default: on the development repositories it cost fidelity, see
 *   BENCHMARKS.md)
 *   mean → value-norm weighting (CriticalKV) → allocate.
 * - `h2o` (arXiv 2306.14048): accumulated attention → allocate.
 */
import type { CacheConfig } from '../cache-config';
import type { ScorerSteps } from './types';

export function scorerSteps(
  config: Pick<CacheConfig, 'eviction' | 'aggregation'> & Partial<Pick<CacheConfig, 'headMeanClamp'>>,
): ScorerSteps {
  switch (config.eviction) {
    case 'none':
      return { source: 'none', pool: false, aggregation: 'mean', clamp: false, valueWeight: false };
    case 'snapkv':
      return { source: 'window', pool: true, aggregation: 'mean', clamp: false, valueWeight: false };
    case 'defensive':
      return {
        source: 'window',
        pool: true,
        aggregation: config.aggregation,
        clamp: config.headMeanClamp ?? true,
        valueWeight: true,
      };
    case 'h2o':
      return { source: 'accumulated', pool: false, aggregation: 'mean', clamp: false, valueWeight: false };
  }
}
