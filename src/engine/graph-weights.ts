/**
 * Graph variants of one checkpoint (plain, scoring, one fused graph per capacity class, ...) carry the same
 * weights: keep one copy on disk, content-addressed (`graphs/weights/<sha256 prefix>.bin`), and hard-link each
 * graph's `weights.bin` to it. Where links are not possible (another file system, no permission) the graph keeps
 * its own copy: sharing is an economy, never a requirement.
 *
 * A damaged shared copy damages every variant linked to it at once. A fresh build that finds the copy damaged
 * publishes its own weights as the new copy (by rename: files are never edited in place, a running session may
 * have them open) and names the damaged inode, so that `relinkWeights` can move every variant off it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WEIGHTS_FILE } from '../../kernels/graph-builder';
import { type GraphManifest, isRemembered, MANIFEST_FILE, rememberVerified, sha256File } from './graph-manifest';

export interface SharedWeights {
  /** sha256 of the weights (hex), computed here anyway and reused by the manifest. */
  sha256: string;
  /** The shared copy, or null when this graph keeps its own. */
  path: string | null;
  /** The (device, inode) of a damaged shared copy this build replaced. */
  replaced?: { dev: number; ino: number };
}

/**
 * Whether the shared copy is intact: its size, and its content hash (which its name carries) unless a full hash
 * of it in its current state is remembered (graph-manifest.ts says why a stamp may stand in for the hash).
 */
function intact(shared: string, size: number, sha256: string): boolean {
  const dir = path.dirname(shared);
  const name = path.basename(shared);
  if (fs.statSync(shared).size !== size) return false;
  if (isRemembered(dir, name)) return true;
  if (sha256File(shared) !== sha256) return false;
  rememberVerified(dir, [name]);
  return true;
}

export function shareWeights(cacheDir: string, weightsPath: string, log: (line: string) => void): SharedWeights {
  const sha256 = sha256File(weightsPath);
  try {
    const shared = path.join(cacheDir, 'graphs', 'weights', `${sha256.slice(0, 32)}.bin`);
    fs.mkdirSync(path.dirname(shared), { recursive: true });
    const publish = () => {
      // Publish under a temporary name first: a reader never links to a half-written file.
      const tmp = `${shared}.tmp-${process.pid}-${Date.now()}`;
      fs.linkSync(weightsPath, tmp);
      fs.renameSync(tmp, shared);
      rememberVerified(path.dirname(shared), [path.basename(shared)]);
    };
    if (!fs.existsSync(shared)) {
      publish();
      return { sha256, path: shared };
    }
    const size = fs.statSync(weightsPath).size;
    if (!intact(shared, size, sha256)) {
      const { dev, ino } = fs.statSync(shared);
      publish();
      return { sha256, path: shared, replaced: { dev, ino } };
    }
    const tmp = `${weightsPath}.link-${process.pid}`;
    fs.linkSync(shared, tmp);
    fs.renameSync(tmp, weightsPath);
    return { sha256, path: shared };
  } catch (err) {
    log(`graph weights not shared (${(err as Error).message}): this graph keeps its own copy`);
    return { sha256, path: null };
  }
}

/** Points every graph whose `weights.bin` is the damaged inode at the fresh shared copy; returns how many. */
export function relinkWeights(cacheDir: string, damaged: { dev: number; ino: number }, shared: string | null): number {
  if (!shared) return 0;
  const graphs = path.join(cacheDir, 'graphs');
  let count = 0;
  for (const name of fs.readdirSync(graphs)) {
    const dir = path.join(graphs, name);
    const weights = path.join(dir, WEIGHTS_FILE);
    try {
      const s = fs.statSync(weights);
      if (s.dev !== damaged.dev || s.ino !== damaged.ino) continue;
      // Only a graph whose manifest names these weights may take the fresh copy without a check of its own.
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as GraphManifest;
      if (manifest.files[WEIGHTS_FILE]?.sha256.slice(0, 32) !== path.basename(shared, '.bin')) continue;
      const tmp = `${weights}.link-${process.pid}`;
      fs.linkSync(shared, tmp);
      fs.renameSync(tmp, weights);
      // The fresh copy was hashed when it was built: no need for this variant to hash it again.
      rememberVerified(dir, [WEIGHTS_FILE]);
      count++;
    } catch {
      // A graph being removed or rebuilt meanwhile: its own check will see to it.
    }
  }
  return count;
}
