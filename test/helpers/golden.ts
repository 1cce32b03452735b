/** golden.json of a bundled model: logits and greedy continuations from an independent fp32 PyTorch forward. */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface GoldenPrompt {
  name: string;
  text: string;
  ids: number[];
  top10: { position: number; ids: number[]; values: number[] }[];
  last_logits: number[];
  greedy: { ids: number[]; text: string };
}

export function readGolden(modelDir: string): GoldenPrompt[] {
  const golden = JSON.parse(fs.readFileSync(path.join(modelDir, 'golden.json'), 'utf8')) as { prompts: GoldenPrompt[] };
  return golden.prompts;
}

/** Indices of the k largest entries, largest first. */
export function topK(row: Float32Array, k: number): number[] {
  return Array.from(row.keys())
    .sort((a, b) => row[b]! - row[a]!)
    .slice(0, k);
}
