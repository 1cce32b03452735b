/**
 * What GPU path this machine has, decided once and remembered, so that `auto` never makes Dawn (onnxruntime's
 * WebGPU implementation) print its "Couldn't load Vulkan" warning into every command's stderr. Dawn writes that
 * warning natively, past onnxruntime's log level, the moment a WebGPU session is attempted; the only way to keep
 * it quiet is not to attempt one in this process unless we already know it will work.
 *
 * The decision: on Linux, no Vulkan loader (libvulkan.so.1) means no WebGPU, found without loading anything.
 * Where a loader exists (or on macOS/Windows, where Metal/Direct3D 12 stand in), a child process tries a WebGPU
 * session on a one-node graph; its stderr is kept for `-v`, never shown otherwise. The answer is cached in the
 * cache directory under a fingerprint of what could change it (machine, onnxruntime-node and Node versions, the
 * dynamic loader's cache, GPU driver and device nodes) and expires after a week.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../kernels/graph-builder';
import { TensorDataType } from '../../kernels/onnx-proto';

export interface WebGpuProbe {
  /** null when a WebGPU session can start; otherwise why not, in words. */
  unavailable: string | null;
  /** The child probe's stderr (Dawn's warnings), kept for `-v`. */
  detail: string;
  /** The probe itself could not run (timeout, no Node binary): answer for this process only, ask again next time. */
  transient?: boolean;
}

export interface ProbeOutcome extends WebGpuProbe {
  /** 'cache' when the answer came from an earlier run, 'probe' when it was found out now. */
  source: 'cache' | 'probe';
}

/** Long enough that a week of commands probes once; short enough that a driver installed quietly is found. */
export const PROBE_TTL_MS = 7 * 24 * 3600 * 1000;
const PROBE_FILE = 'provider-probe.json';
const LOADER = 'libvulkan.so.1';

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function statKey(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return 'absent';
  }
}

function listDir(dir: string): string {
  try {
    return fs.readdirSync(dir).sort().join(',');
  } catch {
    return 'none';
  }
}

/**
 * Everything cheap to read that would change the answer: installing a Vulkan loader or driver package reruns
 * ldconfig (new /etc/ld.so.cache), an NVIDIA driver has a version file, render nodes appear under /dev/dri.
 */
export function machineFingerprint(): string {
  const parts = {
    host: os.hostname(),
    platform: process.platform,
    arch: process.arch,
    node: process.versions.modules,
    ort: ort.env.versions.node,
    ldPath: process.env.LD_LIBRARY_PATH ?? '',
    ldCache: statKey('/etc/ld.so.cache'),
    nvidia: readOr('/proc/driver/nvidia/version', 'none').split('\n')[0],
    dri: listDir('/dev/dri'),
  };
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/** Where the dynamic loader would find the Vulkan loader, or null: LD_LIBRARY_PATH, ldconfig's cache, usual dirs. */
export function findVulkanLoader(): string | null {
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  dirs.push('/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib');
  dirs.push('/usr/local/lib');
  for (const dir of dirs) if (fs.existsSync(path.join(dir, LOADER))) return path.join(dir, LOADER);
  // ldconfig's cache is binary, but library names appear in it as plain strings.
  if (readOr('/etc/ld.so.cache', '').includes(LOADER)) return `${LOADER} (ld.so.cache)`;
  return null;
}

const CHILD_SCRIPT = `
const ort = require(process.argv[1]);
ort.env.logLevel = 'fatal';
ort.InferenceSession.create(process.argv[2], { executionProviders: ['webgpu'], logSeverityLevel: 4 })
  .then((s) => s.release())
  .then(() => process.stdout.write(JSON.stringify({ ok: true })),
        (e) => process.stdout.write(JSON.stringify({ ok: false, error: String((e && e.message) || e) })))
  .finally(() => process.exit(0));
`;

/** A graph of one Identity node: enough for a provider to start, nothing to load. */
function probeModel(dir: string): string {
  const modelPath = path.join(dir, 'model.onnx');
  if (!fs.existsSync(modelPath)) {
    const g = new GraphBuilder('repokv-provider-probe');
    const x = g.input('x', TensorDataType.FLOAT, [1]);
    g.output('y', g.op('Identity', [x]), TensorDataType.FLOAT, [1]);
    g.save(dir, {});
  }
  return modelPath;
}

/** Tries a WebGPU session in a child process so that Dawn's native warnings land in our buffer, not on stderr. */
export async function probeWebGpuInChild(workDir: string): Promise<WebGpuProbe> {
  const modelPath = probeModel(path.join(workDir, 'provider-probe-graph'));
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['-e', CHILD_SCRIPT, require.resolve('onnxruntime-node'), modelPath],
      { timeout: 60_000, encoding: 'utf8' },
    );
    const answer = JSON.parse(stdout) as { ok: boolean; error?: string };
    const reason = /WebGPU adapter/i.test(answer.error ?? '')
      ? 'no WebGPU adapter (GPU driver with Vulkan, Direct3D 12 or Metal needed)'
      : (answer.error ?? '').split('\n')[0]!.slice(0, 200);
    return { unavailable: answer.ok ? null : reason, detail: stderr.trim() };
  } catch (err) {
    return { unavailable: `probe failed (${(err as Error).message.split('\n')[0]})`, detail: '', transient: true };
  }
}

async function probe(workDir: string): Promise<WebGpuProbe> {
  if (process.platform === 'linux' && !findVulkanLoader())
    return { unavailable: `no Vulkan loader (${LOADER}) on this machine`, detail: '' };
  return probeWebGpuInChild(workDir);
}

interface CachedProbe extends WebGpuProbe {
  fingerprint: string;
  at: number;
}

const memo = new Map<string, Promise<ProbeOutcome>>();

/** Can WebGPU start here? Cached in `cacheDir` (and per process); `probeImpl` is for tests. */
export function webGpuAvailability(cacheDir: string, probeImpl = probe): Promise<ProbeOutcome> {
  let answer = memo.get(cacheDir);
  if (!answer) {
    answer = decide(cacheDir, probeImpl);
    memo.set(cacheDir, answer);
  }
  return answer;
}

/** Forgets this process's answers (tests; a sidecar told that the machine changed). */
export function forgetProbes(): void {
  memo.clear();
}

async function decide(cacheDir: string, probeImpl: (workDir: string) => Promise<WebGpuProbe>): Promise<ProbeOutcome> {
  const file = path.join(cacheDir, PROBE_FILE);
  const fingerprint = machineFingerprint();
  try {
    const cached = JSON.parse(fs.readFileSync(file, 'utf8')) as CachedProbe;
    if (cached.fingerprint === fingerprint && Date.now() - cached.at < PROBE_TTL_MS && Date.now() >= cached.at)
      return { unavailable: cached.unavailable, detail: cached.detail, source: 'cache' };
  } catch {
    // No answer yet, or an unreadable one: probe.
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  const result = await probeImpl(cacheDir);
  if (result.transient) return { ...result, source: 'probe' };
  const record: CachedProbe = { ...result, fingerprint, at: Date.now() };
  try {
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(record));
    fs.renameSync(tmp, file);
  } catch {
    // A read-only cache directory: the answer still holds for this process.
  }
  return { ...result, source: 'probe' };
}
