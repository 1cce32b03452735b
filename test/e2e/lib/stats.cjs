/* RepoKV's statistics as numbers: its formatted counts, its summary message, and the model's fp16 baseline. */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** "1.23k" / "950" / "2.1M" back to a number (formatCount in src/extension/format.ts). */
function parseCount(s) {
  const m = /^([\d.]+)([kMG]?)$/.exec(String(s).trim());
  if (!m) return NaN;
  return Number(m[1]) * { '': 1, k: 1e3, M: 1e6, G: 1e9 }[m[2]];
}

/**
 * statsSummary() of src/extension/commands.ts:
 * "RepoKV: 5 files, 812 tokens (406 kept) in 52 KB, 64.0 bytes/token, 32× vs fp16, on cpu"
 */
function parseSummary(text) {
  const m =
    /RepoKV: (\d+) files, ([\d.]+[kMG]?) tokens \(([\d.]+[kMG]?) kept\) in ([\d.]+ [KMGT]?B), ([\d.]+) bytes\/token, ([\d.]+)× vs fp16, on (\w+)/.exec(
      text,
    );
  if (!m) throw new Error(`the statistics message does not read as expected: ${JSON.stringify(text)}`);
  return {
    files: Number(m[1]),
    tokens: parseCount(m[2]),
    tokensText: m[2],
    kept: parseCount(m[3]),
    bytes: m[4],
    bytesPerToken: Number(m[5]),
    ratio: Number(m[6]),
    provider: m[7],
  };
}

/**
 * fp16 bytes per cached token of the model the checks run on (the bundled default, coder-15m): K and V, per
 * layer, per KV head, head_dim values of 2 bytes.
 */
function fp16BytesPerToken() {
  const cfgPath = path.join(__dirname, '..', '..', '..', 'models', 'coder-15m', 'config.json');
  const c = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  const headDim = c.head_dim || c.hidden_size / c.num_attention_heads;
  return 2 * c.num_hidden_layers * (c.num_key_value_heads || c.num_attention_heads) * headDim * 2;
}

module.exports = { parseCount, parseSummary, fp16BytesPerToken };
