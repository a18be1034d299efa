#!/usr/bin/env node
// Dashboard figures (not a test): the first render of the containers screen with 10 containers
// (navigation start to all 10 cards shown, median of 5 runs in fresh browser profiles), and the
// gzipped sizes of the built webroot's files.
//
//   node bench/webui.mjs            (run from the repository; needs webui/node_modules)
// Environment: DROIDSPACES_BIN (default build/droidspaces), WEBROOT (default
// "$(dirname "$DROIDSPACES_BIN")/webroot"), RUNS (5), CONTAINERS (10), CHROMIUM.
// Makes a private DROIDSPACES_HOME with 10 stopped busybox configs (never started) and a
// `droidspaces serve --port 0` of its own; removes both at the end.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { launch } = await import(path.join(repo, 'webui/tests/lib.mjs'));
const bin = path.resolve(process.env.DROIDSPACES_BIN || path.join(repo, 'build/droidspaces'));
const webroot = path.resolve(process.env.WEBROOT || path.join(path.dirname(bin), 'webroot'));
const runs = Number(process.env.RUNS || 5);
const count = Number(process.env.CONTAINERS || 10);

function gzipSizes() {
  const rows = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const raw = fs.readFileSync(p);
        rows.push({ file: path.relative(webroot, p), bytes: raw.length,
          gzip: zlib.gzipSync(raw, { level: 9 }).length });
      }
    }
  };
  walk(webroot);
  return rows.sort((a, b) => a.file.localeCompare(b.file));
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-bench-webui-'));
const envv = { ...process.env, DROIDSPACES_HOME: home };
let server;
try {
  const fixture = execFileSync(path.join(repo, 'tests/fixtures/build.sh'), ['busybox'], { encoding: 'utf8' })
    .trim().split('\n').pop().replace(/^[^=]*=/, '');
  const names = [];
  for (let i = 0; i < count; i++) {
    const name = `bench${i}`;
    const rootfs = path.join(home, 'roots', name);
    fs.mkdirSync(path.dirname(rootfs), { recursive: true });
    execFileSync('cp', ['-a', fixture, rootfs]);
    execFileSync(bin, ['api', 'POST', '/api/v1/containers',
      JSON.stringify({ name, options: { rootfs, net: 'none' } })], { env: envv, stdio: 'ignore' });
    names.push(name);
  }
  server = spawn(bin, ['serve', '--port', '0', '--webroot', webroot], { env: envv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  server.stdout.on('data', (d) => { out += d; });
  const deadline = Date.now() + 15000;
  while (!/#token=[0-9a-f]+/.test(out)) {
    if (Date.now() > deadline) throw new Error(`the server printed no URL: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = out.match(/http:\/\/\S+#token=[0-9a-f]+/)[0];
  const times = [];
  for (let r = 0; r < runs; r++) {
    const s = await launch();
    try {
      const t0 = Date.now();
      await s.page.goto(url);
      await s.page.waitForFunction((n) => document.querySelectorAll('[data-testid^="card-"]').length >= n,
        count, { polling: 'raf', timeout: 20000 });
      const wall = Date.now() - t0;
      // From the page's own clock: navigation start to now.
      const nav = await s.page.evaluate(() => Math.round(performance.now()));
      times.push({ wall, nav });
    } finally {
      await s.close();
    }
  }
  const sizes = gzipSizes();
  const main = sizes.filter((x) => x.file === 'main.js' || x.file === 'style.css')
    .reduce((a, x) => a + x.gzip, 0);
  console.log(`first render of the containers screen, ${count} containers, ${runs} runs:`);
  console.log(`  per run (ms, page clock): ${times.map((t) => t.nav).join(' ')}`);
  console.log(`  median: ${median(times.map((t) => t.nav))} ms (page clock), ${median(times.map((t) => t.wall))} ms (goto to cards, wall)`);
  console.log(`gzipped sizes (${webroot}):`);
  for (const x of sizes) console.log(`  ${x.file.padEnd(28)} ${String(x.bytes).padStart(8)} B  ${(x.gzip / 1024).toFixed(1).padStart(6)} KB gzip`);
  console.log(`  main bundle (main.js + style.css): ${(main / 1024).toFixed(1)} KB gzip`);
  console.log(`  all files: ${(sizes.reduce((a, x) => a + x.gzip, 0) / 1024).toFixed(1)} KB gzip`);
} finally {
  if (server) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  fs.rmSync(home, { recursive: true, force: true });
}
