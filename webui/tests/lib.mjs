// Small helpers for the dashboard flows (webui/tests/flow.mjs) and the bench (bench/webui.mjs):
// launch Debian's chromium through playwright-core, open the dashboard, screenshots, axe scans,
// and a window.ksu stand-in that runs commands with child_process in the test's workspace.
import { chromium } from 'playwright-core';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export function env(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (fallback !== undefined) return fallback;
    throw new Error(`environment variable ${name} is not set`);
  }
  return v;
}

// A fresh profile per launch (--user-data-dir through launchPersistentContext).
// opts: { width, bypassCSP }. Returns { context, page, close }.
export async function launch(opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-webui-profile-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: opts.width || 1280, height: 800 },
    bypassCSP: !!opts.bypassCSP,
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(opts.timeout || 20000);
  const logs = [];
  page.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  return {
    context,
    page,
    logs,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Polls fn() until it returns a truthy value; throws after `ms` with `what` in the message.
export async function until(what, fn, ms = 20000, every = 50) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export function artifactsDir() {
  const dir = process.env.WEBUI_ARTIFACTS ||
    path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../build/webui-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

// Screenshots `page` at 360 and 1280 px wide: <artifacts>/<label>-<width>.png. Restores 1280.
export async function screenshots(page, label) {
  const dir = artifactsDir();
  const files = [];
  for (const width of [360, 1280]) {
    await page.setViewportSize({ width, height: 800 });
    await page.waitForTimeout(100);
    const file = path.join(dir, `${label}-${width}.png`);
    await page.screenshot({ path: file, fullPage: true });
    files.push(file);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  return files;
}

let axeSource;
// Runs axe-core on the page; returns the violations with impact "serious" or "critical".
// Injected with evaluate (CDP), which the page's CSP does not govern.
export async function axeScan(page) {
  if (!axeSource) axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

// A window.ksu stand-in: ksu.exec(cmd, opts, cb) runs `cmd` with /bin/sh in the test's
// workspace (DROIDSPACES_HOME, `droidspaces` on PATH) and calls window[cb](errno, stdout, stderr)
// as KernelSU's WebUI does. Every command is recorded in `commands`.
export async function installKsu(context, { home, bin }) {
  const binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-ksu-bin-'));
  fs.symlinkSync(bin, path.join(binDir, 'droidspaces'));
  const commands = [];
  await context.exposeFunction('__dsKsuExec', (cmd) => new Promise((resolve) => {
    commands.push(cmd);
    execFile('/bin/sh', ['-c', cmd], {
      env: { ...process.env, DROIDSPACES_HOME: home, PATH: `${binDir}:${process.env.PATH}` },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 120000,
    }, (err, stdout, stderr) => {
      const errno = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve([errno, String(stdout), String(stderr)]);
    });
  }));
  await context.addInitScript(() => {
    window.ksu = {
      exec(cmd, opts, cb) {
        window.__dsKsuExec(cmd).then(([errno, stdout, stderr]) => {
          if (typeof window[cb] === 'function') window[cb](errno, stdout, stderr);
        });
      },
      toast() {},
      fullScreen() {},
    };
  });
  return { commands, cleanup: () => fs.rmSync(binDir, { recursive: true, force: true }) };
}
