/**
 * onnxruntime-node 1.30 reads a float16 tensor's bytes as zero when the runtime has a global Float16Array
 * (Node ≥ 24, e.g. the extension host of recent VS Code builds): onnxruntime-common converts our Uint16Array
 * statistics into a Float16Array that the native binding does not understand (upstream pull request #32323).
 * Removing the global before the first Tensor keeps the Uint16Array path that works on every Node version.
 * Imported first by every entry point that runs ONNX graphs.
 */
delete (globalThis as { Float16Array?: unknown }).Float16Array;
