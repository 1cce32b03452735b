// Bundles the CLI (and, as they appear, the extension and the sidecar) into dist/.
// onnxruntime-node is a native addon and vscode is provided by the host: both stay external.
const esbuild = require('esbuild');
const fs = require('node:fs');
const path = require('node:path');

const entries = [
  { in: 'src/cli/main.ts', out: 'cli', banner: '#!/usr/bin/env node' },
  { in: 'bench/main.ts', out: 'bench' },
  { in: 'src/extension/extension.ts', out: 'extension' },
  { in: 'src/sidecar/main.ts', out: 'sidecar' },
].filter((e) => fs.existsSync(path.join(__dirname, e.in)));

/**
 * The tree-sitter runtime and grammars are WebAssembly files loaded at run time: copy them next to the bundles so
 * the packaged extension (which ships no node_modules but onnxruntime-node) finds them in dist/grammars.
 */
function copyGrammars() {
  const out = path.join(__dirname, 'dist', 'grammars');
  fs.mkdirSync(out, { recursive: true });
  const grammars = path.join(path.dirname(require.resolve('@repomix/tree-sitter-wasms/package.json')), 'out');
  for (const f of fs.readdirSync(grammars))
    if (f.endsWith('.wasm')) fs.copyFileSync(path.join(grammars, f), path.join(out, f));
  fs.copyFileSync(require.resolve('web-tree-sitter/web-tree-sitter.wasm'), path.join(out, 'web-tree-sitter.wasm'));
}

async function main() {
  const watch = process.argv.includes('--watch');
  const contexts = await Promise.all(
    entries.map((e) =>
      esbuild.context({
        entryPoints: { [e.out]: e.in },
        outdir: 'dist',
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        sourcemap: true,
        external: ['vscode', 'onnxruntime-node'],
        // ESM dependencies (web-tree-sitter) read import.meta.url, which a CommonJS bundle lacks: give them the
        // bundle's own file URL.
        define: { 'import.meta.url': '__repokvImportMetaUrl' },
        banner: {
          js: `${e.banner ? e.banner + '\n' : ''}var __repokvImportMetaUrl = require('url').pathToFileURL(__filename).href;`,
        },
        logLevel: 'warning',
      }),
    ),
  );
  if (watch) {
    await Promise.all(contexts.map((c) => c.watch()));
    return;
  }
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
  copyGrammars();
  if (fs.existsSync('dist/cli.js')) fs.chmodSync('dist/cli.js', 0o755);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
