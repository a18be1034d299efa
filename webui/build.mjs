// Builds the dashboard: node build.mjs [OUT_DIR] (default ../build/webroot).
import * as esbuild from 'esbuild';
import { mkdirSync, rmSync, copyFileSync, readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, '..', 'build', 'webroot'));

// Empty the directory rather than replace it: a running server keeps the webroot open.
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) rmSync(join(out, f), { recursive: true, force: true });

const result = await esbuild.build({
  entryPoints: { main: join(here, 'src', 'main.jsx') },
  outdir: out,
  bundle: true,
  format: 'esm',
  splitting: true,
  minify: true,
  sourcemap: false,
  target: ['es2018', 'chrome70'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  loader: { '.css': 'css' },
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

copyFileSync(join(here, 'src', 'index.html'), join(out, 'index.html'));
copyFileSync(join(here, 'src', 'style.css'), join(out, 'style.css'));

const gz = (f) => gzipSync(readFileSync(join(out, f)), { level: 9 }).length;
const kb = (n) => (n / 1024).toFixed(1) + ' KB';
let total = 0;
for (const f of readdirSync(out).sort()) {
  const n = gz(f);
  total += n;
  console.log(`  ${f.padEnd(28)} ${kb(n).padStart(9)} gzip`);
}
const main = gz('main.js') + gz('style.css');
console.log(`main bundle (main.js + style.css): ${kb(main)} gzip; all files: ${kb(total)} gzip -> ${out}`);
if (main > 40 * 1024) {
  console.error('error: the main bundle is over 40 KB gzipped');
  process.exit(1);
}
void result;
