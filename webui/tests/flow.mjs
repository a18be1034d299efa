// One dashboard flow against a real `droidspaces serve` (tests/95-webui.bats runs one per @test):
//   node webui/tests/flow.mjs NAME
// Environment (set by the bats suite):
//   DS_URL            the printed dashboard URL (http://127.0.0.1:PORT/#token=...)
//   BASE, TOKEN       the server, for API checks made beside the UI
//   DROIDSPACES_HOME  the suite's workspace; DROIDSPACES_BIN the runtime (ksu stand-in)
//   RUN_NAME          a running busybox container (--net=none); SECOND_NAME a stopped one
//   TARBALL           a tarball path on the device for the install flow; NEW_NAME its name
//   XSS_NAME          a container with HTML/script payloads in os-release and hostname
//   WEBUI_ARTIFACTS   where screenshots go (default build/webui-artifacts)
import fs from 'node:fs';
import path from 'node:path';
import { axeScan, env, installKsu, launch, screenshots, until } from './lib.mjs';

const flow = process.argv[2];
const log = (...a) => console.log(`[${flow}]`, ...a);

function configOf(name) {
  return fs.readFileSync(path.join(env('DROIDSPACES_HOME'), 'Containers', name, 'container.config'), 'utf8');
}

function configValue(name, key) {
  const line = configOf(name).split('\n').find((l) => l.startsWith(`${key}=`));
  return line === undefined ? undefined : line.slice(key.length + 1);
}

async function api(method, p, body) {
  const res = await fetch(env('BASE') + p, {
    method,
    headers: { Authorization: `Bearer ${env('TOKEN')}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

// Screenshots and an axe scan of the current screen; fails on serious/critical violations.
async function checkScreen(page, label) {
  const files = await screenshots(page, label);
  log('screenshots:', files.join(' '));
  const bad = await axeScan(page);
  if (bad.length) throw new Error(`axe on ${label}: ${JSON.stringify(bad, null, 1)}`);
  log(`axe on ${label}: no serious or critical violations`);
}

const testid = (id) => `[data-testid="${id}"]`;
const text = async (page, id) => (await page.locator(testid(id)).first().textContent()) || '';

async function openDashboard(page) {
  await page.goto(env('DS_URL'));
  await until('the token is gone from the address bar',
    async () => !page.url().includes('token') && !(await page.evaluate(() => location.href)).includes('token'));
}

// Opens the dashboard through the ksu stand-in: the same files, no token in the URL, every API
// call through window.ksu.exec.
async function openKsu(s) {
  const ksu = await installKsu(s.context, { home: env('DROIDSPACES_HOME'), bin: env('DROIDSPACES_BIN') });
  s.ksu = ksu;
  await s.page.goto(`${env('BASE')}/`);
  return ksu;
}

async function stopStart(page, name) {
  await page.locator(testid(`card-${name}`)).waitFor();
  await until(`${name} shows running`, async () => /running/i.test(await text(page, `state-${name}`)));
  await page.locator(testid(`stop-${name}`)).click();
  await until(`${name} shows stopped`, async () => /stopped/i.test(await text(page, `state-${name}`)), 30000);
  log('state after stop:', (await text(page, `state-${name}`)).trim());
  const pid = path.join(env('DROIDSPACES_HOME'), 'Pids', `${name}.pid`);
  await page.locator(testid(`start-${name}`)).click();
  await until(`${name} shows running`, async () => /running/i.test(await text(page, `state-${name}`)), 30000);
  log('state after start:', (await text(page, `state-${name}`)).trim());
  const r = await api('GET', `/api/v1/containers/${name}`);
  log('API state:', r.status, r.body && (r.body.state || r.body.running));
  void pid;
}

async function editHostname(page, name, value) {
  await page.goto(new URL(`#/c/${name}`, page.url()).href);
  const field = page.locator(`[name="hostname"]`).first();
  await field.waitFor();
  await field.fill(value);
  await page.locator(testid('save-config')).first().click();
  await until(`hostname=${value} in ${name}'s container.config`,
    () => configValue(name, 'hostname') === value, 15000);
  log(`container.config: hostname=${configValue(name, 'hostname')}`);
}

const flows = {
  // The printed URL opens the dashboard; the token leaves the address bar; the card is there.
  async token(s) {
    const { page } = s;
    await openDashboard(page);
    const stored = await page.evaluate(() => Object.values(sessionStorage).join(' '));
    if (!stored.includes(env('TOKEN'))) throw new Error('token not kept in sessionStorage');
    if (page.url().includes(env('TOKEN'))) throw new Error(`token still in the URL: ${page.url()}`);
    await page.locator(testid(`card-${env('RUN_NAME')}`)).waitFor();
    log('url after load:', page.url());
    await checkScreen(page, 'containers');
  },

  async 'stop-start'(s) {
    await openDashboard(s.page);
    await stopStart(s.page, env('RUN_NAME'));
  },

  // Install from a tarball path: the progress bar moves, then the new container's card appears.
  async install(s) {
    const { page } = s;
    const name = env('NEW_NAME');
    await openDashboard(page);
    await page.locator(testid('nav-new')).click();
    await page.locator('[name="name"]').fill(name);
    await page.locator('[name="source"]').fill(env('TARBALL'));
    await checkScreen(page, 'new');
    const seen = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const v = await page.evaluate(() => {
          const p = document.querySelector('[data-testid="progress"]');
          return p ? [p.value, p.max] : null;
        }).catch(() => null);
        if (v && (seen.length === 0 || seen[seen.length - 1][0] !== v[0])) seen.push(v);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await page.locator(testid('install')).click();
    await page.locator(testid('done-link')).waitFor({ timeout: 120000 });
    polling = false;
    await poller;
    const fin = await page.evaluate(() => {
      const p = document.querySelector('[data-testid="progress"]');
      return [p.value, p.max];
    });
    if (!seen.length || seen[seen.length - 1][0] !== fin[0]) seen.push(fin);
    log('progress values seen [value, max]:', JSON.stringify(seen));
    log('progress text:', await text(page, 'progress-text'));
    const values = seen.map((v) => v[0]);
    const max = seen.length ? seen[seen.length - 1][1] : 0;
    const between = new Set(values.filter((v) => v > 0 && v < max));
    if (between.size < 1 || values[values.length - 1] !== max)
      throw new Error(`the progress bar did not move: ${JSON.stringify(seen)}`);
    for (let i = 1; i < values.length; i++)
      if (values[i] < values[i - 1]) throw new Error(`progress went back: ${JSON.stringify(seen)}`);
    await screenshots(page, 'new-done');
    await page.locator(testid('done-link')).click();
    await until('the container screen', () => page.url().includes(`#/c/${name}`));
    await page.locator(testid('nav-containers')).click();
    await page.locator(testid(`card-${name}`)).waitFor();
    log(`card-${name} is listed`);
  },

  // Upload from the browser (file input): upload progress, then the installer's events.
  async upload(s) {
    const { page } = s;
    const name = env('UP_NAME');
    await openDashboard(page);
    await page.locator(testid('nav-new')).click();
    await page.locator('[name="name"]').fill(name);
    await page.locator('input[name="kind"][value="upload"]').check();
    await page.locator(testid('upload-file')).setInputFiles(env('SMALL_TARBALL'));
    await checkScreen(page, 'new-upload');
    await page.locator(testid('install')).click();
    await page.locator(testid('done-link')).waitFor({ timeout: 120000 });
    log('progress text:', await text(page, 'progress-text'), '| done:', await text(page, 'done'));
    await page.locator(testid('nav-containers')).click();
    await page.locator(testid(`card-${name}`)).waitFor();
    log(`card-${name} is listed`);
  },

  // Cancel once the install reports progress: an error shown as an alert, no done link.
  async cancel(s) {
    const { page } = s;
    const name = env('CANCEL_NAME');
    await openDashboard(page);
    await page.locator(testid('nav-new')).click();
    await page.locator('[name="name"]').fill(name);
    await page.locator('[name="source"]').fill(env('TARBALL'));
    await page.locator(testid('install')).click();
    await page.locator(testid('cancel')).waitFor();
    await until('a job id and some progress', () => page.evaluate(() => {
      const p = document.querySelector('[data-testid="progress"]');
      return p && p.value > 0 && p.value < p.max;
    }), 60000, 10);
    await page.locator(testid('cancel')).click();
    await until('the install ended', async () => !(await page.locator(testid('cancel')).count()), 30000);
    const alert = await page.locator('[role="alert"]').allTextContents();
    log('alerts:', JSON.stringify(alert));
    if (!alert.length) throw new Error('no role="alert" after cancel');
    if (await page.locator(testid('done-link')).count()) throw new Error('done after cancel');
  },

  async config(s) {
    const { page } = s;
    await openDashboard(page);
    await editHostname(page, env('RUN_NAME'), `ui-host-${process.pid}`);
    await checkScreen(page, 'container');
  },

  // `echo hi` typed into the xterm; `hi` read back from its rows.
  async terminal(s) {
    const { page } = s;
    await openDashboard(page);
    await page.goto(new URL(`#/c/${env('RUN_NAME')}`, page.url()).href);
    await page.locator(testid('open-terminal')).click();
    const term = page.locator(testid('terminal'));
    await term.locator('.xterm-rows').waitFor();
    const rows = () => term.locator('.xterm-rows > div').allTextContents();
    // Wait for the shell's prompt before typing.
    await until('a prompt in the terminal', async () => (await rows()).some((r) => r.trim() !== ''));
    await term.click();
    await page.keyboard.type('echo hi');
    await page.keyboard.press('Enter');
    const got = await until('a row reading "hi"',
      async () => { const r = await rows(); return r.some((l) => l.trim() === 'hi') && r; }, 20000);
    log('terminal rows:', JSON.stringify(got.filter((l) => l.trim() !== '')));
    await checkScreen(page, 'terminal');
  },

  // Boot autostart for two containers from their screens; checked in the config files and in the
  // API's boot order.
  async autostart(s) {
    const { page } = s;
    await openDashboard(page);
    const plan = [[env('RUN_NAME'), '20'], [env('SECOND_NAME'), '10']];
    for (const [name, prio] of plan) {
      await page.goto(new URL(`#/c/${name}`, page.url()).href);
      const box = page.locator('[name="run-at-boot"]').first();
      await box.waitFor();
      await box.check();
      await page.locator('[name="run-at-boot-priority"]').first().fill(prio);
      // The autostart box saves with its own button when there is one, else with the form.
      const own = page.locator(testid('save-autostart'));
      await ((await own.count()) ? own.first() : page.locator(testid('save-config')).first()).click();
      await until(`run_at_boot=1, run_at_boot_priority=${prio} in ${name}'s config`,
        () => configValue(name, 'run_at_boot') === '1' &&
          configValue(name, 'run_at_boot_priority') === prio, 15000);
      log(`${name}: run_at_boot=1 run_at_boot_priority=${prio}`);
    }
    const order = await api('GET', '/api/v1/autostart');
    const names = order.body.containers.filter((c) => c.run_at_boot).map((c) => c.name);
    log('boot order:', JSON.stringify(names));
    if (names.join() !== [env('SECOND_NAME'), env('RUN_NAME')].join())
      throw new Error(`boot order ${names}`);
  },

  async system(s) {
    const { page } = s;
    await openDashboard(page);
    await page.locator(testid('nav-system')).click();
    await until('the system screen', () => page.url().includes('#/system'));
    await page.waitForLoadState('networkidle');
    await checkScreen(page, 'system');
  },

  // Payloads in PRETTY_NAME (XSS_NAME, running) and in a hand-written hostname (XSSCFG_NAME,
  // whose config line the runtime ignores with a warning quoting it) are shown as literal text; nothing runs, no dialog.
  // The CSP is bypassed here so that it cannot hide a rendering bug.
  async xss(s) {
    const { page } = s;
    const dialogs = [];
    page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    const img = '<img src=x onerror=window.__pwned=1>';
    const script = '<script>window.__pwned=1</script>';
    const shown = () => page.evaluate(() => document.body.innerText + '\n' +
      [...document.querySelectorAll('input, textarea')].map((e) => e.value).join('\n'));
    const checks = [];
    const assertInert = async (where) => {
      const st = await page.evaluate(() => ({
        pwned: typeof window.__pwned,
        imgs: document.querySelectorAll('img[src="x"]').length,
        scripts: [...document.querySelectorAll('script')].filter((e) => e.textContent.includes('__pwned')).length,
      }));
      checks.push([where, st]);
      if (st.pwned !== 'undefined' || st.imgs || st.scripts || dialogs.length)
        throw new Error(`payload ran or became markup on ${where}: ${JSON.stringify(st)} ${dialogs}`);
    };
    await openDashboard(page);
    const card = (n) => page.locator(testid(`card-${n}`));
    await until('PRETTY_NAME payload as text in its card',
      async () => (await card(env('XSS_NAME')).innerText()).includes(img), 20000);
    await until('hostname payload as text in its card',
      async () => (await card(env('XSSCFG_NAME')).innerText()).includes(script), 20000);
    log('cards:', JSON.stringify(await card(env('XSS_NAME')).innerText()),
      JSON.stringify(await card(env('XSSCFG_NAME')).innerText()));
    await screenshots(page, 'xss-containers');
    await assertInert('#/');
    // The container screen of XSSCFG_NAME need not show its config error (it says there is no
    // such container today); it must still run nothing.
    for (const [name, payload] of [[env('XSS_NAME'), img], [env('XSSCFG_NAME'), null]]) {
      await page.goto(new URL(`#/c/${name}`, page.url()).href);
      if (payload)
        await until(`the payload as text on #/c/${name}`, async () => (await shown()).includes(payload), 15000);
      else await page.locator(testid(`state-${name}`)).waitFor();
      await page.waitForTimeout(500);
      await assertInert(`#/c/${name}`);
      await screenshots(page, `xss-${name === env('XSS_NAME') ? 'os' : 'hostname'}`);
    }
    log('after render:', JSON.stringify(checks), 'dialogs:', dialogs.length);
  },

  // The same flows through the window.ksu stand-in (exec transport).
  async 'ksu-list'(s) {
    const ksu = await openKsu(s);
    await s.page.locator(testid(`card-${env('RUN_NAME')}`)).waitFor();
    await s.page.locator(testid(`card-${env('SECOND_NAME')}`)).waitFor();
    const apiCalls = ksu.commands.filter((c) => c.includes('droidspaces api'));
    log('ksu.exec commands:', JSON.stringify(ksu.commands.slice(0, 5)));
    if (!apiCalls.length) throw new Error('no `droidspaces api` went through ksu.exec');
    await checkScreen(s.page, 'ksu-containers');
  },

  async 'ksu-stop-start'(s) {
    const ksu = await openKsu(s);
    await stopStart(s.page, env('RUN_NAME'));
    const used = ksu.commands.filter((c) => /droidspaces api POST '\/api\/v1\/containers\/[^']+\/(stop|start)'/.test(c));
    log('ksu stop/start commands:', JSON.stringify(used));
    if (used.length < 2) throw new Error('stop/start did not go through ksu.exec');
  },

  async 'ksu-config'(s) {
    const ksu = await openKsu(s);
    await s.page.locator(testid(`card-${env('RUN_NAME')}`)).waitFor();
    await editHostname(s.page, env('SECOND_NAME'), `ksu-host-${process.pid}`);
    const used = ksu.commands.filter((c) => c.includes("droidspaces api PUT '/api/v1/containers/"));
    log('ksu config commands:', JSON.stringify(used));
    if (!used.length) throw new Error('the config edit did not go through ksu.exec');
  },
};

async function main() {
  if (!flows[flow]) {
    console.error(`usage: flow.mjs ${Object.keys(flows).join('|')}`);
    process.exit(2);
  }
  const s = await launch({ bypassCSP: flow === 'xss' });
  const t0 = Date.now();
  try {
    await flows[flow](s);
    log(`ok (${Date.now() - t0} ms)`);
  } catch (e) {
    console.error(`[${flow}] FAILED: ${e.stack || e}`);
    console.error(s.logs.join('\n'));
    try {
      await screenshots(s.page, `failed-${flow}`);
    } catch {}
    process.exitCode = 1;
  } finally {
    if (s.ksu) s.ksu.cleanup();
    await s.close();
  }
}

await main();
