/** Options several benchmarks share, spelled once (commander `Option`s, added with `.addOption`). */
import { Option } from 'commander';

/** Engine.load's default when absent: the bundled coder-15m. */
export const modelOption = () => new Option('--model <dir>', 'checkpoint (default: bundled coder-15m)');
export const threadsOption = () => new Option('--threads <n>', 'intra-op threads (default: onnxruntime chooses)');
export const providerOption = () =>
  new Option('--provider <name>', 'execution provider').choices(['cpu', 'webgpu', 'cuda']).default('cpu');
export const jsonOption = () => new Option('--json', 'print raw JSON');
