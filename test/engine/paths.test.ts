/** Which model an empty --model / repokv.model.path means: coder-15m, shipped in models/. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundledModelDir, DEFAULT_MODEL_NAME } from '../../src/engine/paths';
import { CODER_MODEL, TINY_MODEL } from '../helpers/paths';

describe('bundled models', () => {
  it('the default is coder-15m, a complete checkpoint folder', () => {
    expect(DEFAULT_MODEL_NAME).toBe('coder-15m');
    expect(bundledModelDir()).toBe(CODER_MODEL);
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
      expect(fs.existsSync(path.join(bundledModelDir(), file))).toBe(true);
  });

  it('tiny-coder is found by name', () => {
    expect(bundledModelDir('tiny-coder')).toBe(TINY_MODEL);
  });

  it('the VSIX carries the default model', () => {
    const rules = fs.readFileSync(path.join(CODER_MODEL, '..', '..', '.vscodeignore'), 'utf8').split('\n');
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
      expect(rules).toContain(`!models/${DEFAULT_MODEL_NAME}/${file}`);
  });
});
