// The container screen (#/c/<name>): info, actions, the config as a form, bind mounts, boot
// autostart, the console (live when a server runs), a run box, a terminal and delete.
// Every string from a guest or a config is rendered as a JSX text node, never as HTML.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { call, stream, serverAvailable, startServer } from '../api.js';
import { formatBytes, formatUptime, errorText } from '../util.js';
import Terminal from '../components/Terminal.jsx';

const CONSOLE_MAX_LINES = 2000;
const POLL_MS = 2500;

function path(name, rest) {
  return '/containers/' + encodeURIComponent(name) + (rest || '');
}

// ------------------------------------------------------------------ the config form model

// Bytes -> the shortest exact size string the CLI takes (512M, 1G, 1536K, 1000).
export function sizeString(n) {
  if (n === null || n === undefined || n === '') return '';
  const v = Number(n);
  if (!isFinite(v) || v <= 0) return String(n);
  const units = [['T', 2 ** 40], ['G', 2 ** 30], ['M', 2 ** 20], ['K', 1024]];
  for (const [u, m] of units) if (v % m === 0) return v / m + u;
  return String(v);
}

function str(v) { return v === null || v === undefined ? '' : String(v); }

// Text options: [long option, label, value from the config document, hint]
const TEXT_FIELDS = [
  ['hostname', 'Hostname', (d) => str(d.hostname), 'default: the name'],
  ['rootfs', 'Rootfs', (d) => str(d.rootfs), 'a directory, or an ext4 image file'],
  ['dns', 'DNS servers', (d) => ((d.features && d.features.dns_servers) || []).join(' '), 'comma or space separated; default 1.1.1.1 8.8.8.8'],
  ['init', 'Custom init', (d) => str(d.features && d.features.custom_init), 'absolute path; default /sbin/init'],
  ['privileged', 'Privileged', (d) => str(d.features && d.features.privileged), 'nomask, nocaps, noseccomp, shared, unfiltered-dev or full (comma separated)'],
  ['memory', 'Memory limit', (d) => sizeString(d.features && d.features.memory_limit), 'e.g. 512M (at least 4M); empty: no limit'],
  ['cpus', 'CPU limit (cores)', (d) => str(d.features && d.features.cpus), 'e.g. 1.5; empty: no limit'],
  ['pids-limit', 'Process limit', (d) => str(d.features && d.features.pids_limit), 'e.g. 256; empty: no limit'],
];

// Switches: [long option, features key, label, android only]
const SWITCHES = [
  ['disable-ipv6', 'disable_ipv6', 'Disable IPv6 inside', false],
  ['volatile', 'volatile', 'Volatile (discard changes on stop)', false],
  ['allow-userns', 'allow_userns', 'Allow user namespaces inside', false],
  ['block-nested-namespaces', 'block_nested_namespaces', 'Block nested namespaces', false],
  ['force-cgroupv1', 'force_cgroupv1', 'Force the cgroup v1 layout', false],
  ['foreground', 'foreground', 'Foreground (attach to the console while it boots)', false],
  ['enable-android-storage', 'android_storage', 'Android storage (/storage/emulated/0)', true],
  ['selinux-permissive', 'selinux_permissive', 'SELinux permissive', true],
  ['termux-x11', 'termux_x11', 'Termux:X11 display', true],
  ['virgl', 'virgl', 'VirGL GPU acceleration', true],
  ['pulse-audio', 'pulseaudio', 'PulseAudio sound', true],
];

const NET_MODES = [
  ['host', 'host (the host\'s network)', true],
  ['none', 'none (own namespace, only lo)', true],
  ['nat', 'nat (eth0 behind the host)', true],
  ['gateway', 'gateway (wired to a router container)', true],
];

export function parseBind(s) {
  let rest = String(s);
  let ro = false;
  if (/:ro$/.test(rest)) { ro = true; rest = rest.slice(0, -3); }
  const i = rest.lastIndexOf(':');
  return i < 0 ? { src: rest, dest: '', ro } : { src: rest.slice(0, i), dest: rest.slice(i + 1), ro };
}

export function bindString(b) {
  return b.src + ':' + b.dest + (b.ro ? ':ro' : '');
}

// The form's values from a config document (strings, booleans and the bind rows).
export function formFromConfig(d) {
  const f = d.features || {};
  const v = {};
  for (const [opt, , get] of TEXT_FIELDS) v[opt] = get(d);
  for (const [opt, key] of SWITCHES) v[opt] = !!f[key];
  v.net = f.net || 'host';
  v['hw-access'] = f.hw_access || 'none';
  v.env = str(f.env_file);
  v.bind = (f.bind_mounts || []).map(parseBind);
  return v;
}

// Only the changed fields, as the API's "options": strings, true/false, arrays; null clears.
export function changedOptions(initial, cur) {
  const out = {};
  for (const [opt] of TEXT_FIELDS) {
    if (cur[opt].trim() !== initial[opt].trim()) out[opt] = cur[opt].trim() === '' ? null : cur[opt].trim();
  }
  if (cur.env.trim() !== initial.env.trim()) out.env = cur.env.trim() === '' ? null : cur.env.trim();
  for (const [opt] of SWITCHES) if (cur[opt] !== initial[opt]) out[opt] = cur[opt];
  if (cur.net !== initial.net) out.net = cur.net;
  if (cur['hw-access'] !== initial['hw-access']) {
    out['hw-access'] = cur['hw-access'] === 'full';
    out.gpu = cur['hw-access'] === 'gpu';
  }
  const a = initial.bind.map(bindString).join('\n');
  const rows = cur.bind.filter((b) => b.src.trim() !== '' || b.dest.trim() !== '');
  const b = rows.map((r) => bindString({ src: r.src.trim(), dest: r.dest.trim(), ro: r.ro })).join('\n');
  if (a !== b) out.bind = rows.length ? b.split('\n') : null;
  return out;
}

// ------------------------------------------------------------------ small pieces

function Field({ label, hint, children, id }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {hint && <div class="muted small">{hint}</div>}
    </div>
  );
}

const FORM_GRID = { display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(260px, 1fr))', gap: '10px 16px' };
const ROW = { display: 'flex', gap: '8px', alignItems: 'center', flexWrap: 'wrap', margin: '6px 0' };
const CHECK_LABEL = { display: 'flex', gap: '8px', alignItems: 'center', minHeight: '40px' };
const CONSOLE_STYLE = {
  margin: 0, padding: '8px', maxHeight: '50vh', minHeight: '120px', overflow: 'auto', whiteSpace: 'pre-wrap',
  overflowWrap: 'anywhere', background: 'var(--bg)', border: '1px solid var(--line)', borderRadius: '8px',
};
const PRE_STYLE = { margin: '4px 0', padding: '8px', whiteSpace: 'pre-wrap', overflowWrap: 'anywhere', maxHeight: '40vh', overflow: 'auto', background: 'var(--bg)', borderRadius: '8px' };

function Check({ name, checked, onChange, label, testid, disabled }) {
  return (
    <label style={CHECK_LABEL}>
      <input type="checkbox" name={name} data-testid={testid} checked={checked} disabled={disabled}
        onChange={(e) => onChange(e.currentTarget.checked)} />
      <span>{label}</span>
    </label>
  );
}

// ------------------------------------------------------------------ info + actions

function InfoPanel({ name, info, infoErr, onAction, busy, actionErr, actionNote }) {
  const running = info && info.state === 'RUNNING';
  const f = (info && info.features) || {};
  const cg = (info && info.cgroup) || {};
  const rows = [];
  const add = (k, v, id) => { if (v !== null && v !== undefined && v !== '') rows.push([k, v, id]); };
  if (info) {
    add('OS', info.os, 'info-os');
    add('Init', info.init, 'info-init');
    add('Uptime', running ? (info.uptime || formatUptime(info.uptime_seconds)) : null, 'info-uptime');
    add('Hostname', info.hostname, 'info-hostname');
    add('PID', running ? info.pid : null, 'info-pid');
    add('Rootfs', info.rootfs, 'info-rootfs');
    add('Network', f.net, 'info-net');
    if (running && cg.memory_current != null) add('Memory', formatBytes(cg.memory_current) + (cg.memory_max ? ' / ' + formatBytes(cg.memory_max) : ''), 'info-memory');
    if (running && cg.pids_current != null) add('Tasks', String(cg.pids_current) + (cg.pids_max ? ' / ' + cg.pids_max : ''), 'info-tasks');
    if (f.bind_mounts && f.bind_mounts.length) add('Bind mounts', f.bind_mounts.join(', '), 'info-binds');
    if (f.env_file) add('Environment', f.env_file + ' (' + (info.env_vars || 0) + ' variables)', 'info-env');
    const on = SWITCHES.filter(([, key]) => f[key]).map(([opt]) => opt);
    if (f.privileged) on.push('privileged=' + f.privileged);
    if (f.hw_access && f.hw_access !== 'none') on.push('hw-access=' + f.hw_access);
    if (f.memory_limit) on.push('memory=' + sizeString(f.memory_limit));
    if (f.cpus) on.push('cpus=' + f.cpus);
    if (f.pids_limit) on.push('pids-limit=' + f.pids_limit);
    add('Features', on.join(', '), 'info-features');
    add('Config', info.config_source, 'info-config-source');
  }
  const state = info ? info.state : infoErr ? 'UNKNOWN' : '…';
  return (
    <section class="panel" aria-labelledby="c-info-h">
      <div class="toolbar">
        <h2 id="c-info-h" style={{ overflowWrap: 'anywhere' }}>{name}</h2>
        <span class={'state' + (busy ? ' busy' : running ? ' running' : '')} data-testid={'state-' + name}>
          {busy ? busy.toUpperCase() + '…' : state}
        </span>
      </div>
      <div class="actions">
        <button type="button" class="primary" data-testid={'start-' + name} disabled={!!busy || running || !info}
          onClick={() => onAction('start')}>Start</button>
        <button type="button" data-testid={'stop-' + name} disabled={!!busy || !running}
          onClick={() => onAction('stop')}>Stop</button>
        <button type="button" data-testid={'restart-' + name} disabled={!!busy || !running}
          onClick={() => onAction('restart')}>Restart</button>
      </div>
      {actionErr && <div class="banner error" data-testid="action-error" style={{ marginTop: '10px' }}>{actionErr}</div>}
      {actionNote && <div class="banner warn" data-testid="action-warnings" style={{ marginTop: '10px' }}>{actionNote}</div>}
      {infoErr && <div class="banner error" data-testid="info-error" style={{ marginTop: '10px' }}>{infoErr}</div>}
      {rows.length > 0 && (
        <dl class="kv" style={{ marginTop: '12px' }} data-testid="info">
          {rows.map(([k, v, id]) => [<dt key={id + '-k'}>{k}</dt>, <dd key={id} data-testid={id}>{String(v)}</dd>])}
        </dl>
      )}
    </section>
  );
}

// ------------------------------------------------------------------ config form

function BindEditor({ rows, setRows }) {
  const set = (i, patch) => setRows(rows.map((r, j) => (j === i ? Object.assign({}, r, patch) : r)));
  return (
    <fieldset data-testid="binds" style={{ border: '1px solid var(--line)', borderRadius: '8px', margin: '12px 0', padding: '8px 10px' }}>
      <legend>Bind mounts (host path → path inside; at most 16)</legend>
      {rows.length === 0 && <div class="muted small">None.</div>}
      {rows.map((r, i) => (
        <div style={ROW} key={i} data-testid={'bind-row-' + i}>
          <input style={{ flex: '1 1 140px', width: 'auto' }} aria-label={'Bind ' + (i + 1) + ' host path'} placeholder="/host/path"
            name={'bind-src-' + i} value={r.src} onInput={(e) => set(i, { src: e.currentTarget.value })} />
          <input style={{ flex: '1 1 140px', width: 'auto' }} aria-label={'Bind ' + (i + 1) + ' path inside'} placeholder="/path/inside"
            name={'bind-dest-' + i} value={r.dest} onInput={(e) => set(i, { dest: e.currentTarget.value })} />
          <label style={CHECK_LABEL}>
            <input type="checkbox" name={'bind-ro-' + i} checked={r.ro} onChange={(e) => set(i, { ro: e.currentTarget.checked })} />
            <span>read-only</span>
          </label>
          <button type="button" class="danger" data-testid={'bind-remove-' + i} aria-label={'Remove bind ' + (i + 1)}
            onClick={() => setRows(rows.filter((_, j) => j !== i))}>Remove</button>
        </div>
      ))}
      <button type="button" data-testid="bind-add" disabled={rows.length >= 16}
        onClick={() => setRows(rows.concat([{ src: '', dest: '', ro: false }]))}>Add a bind mount</button>
    </fieldset>
  );
}

function ConfigForm({ name, onSaved, android }) {
  const [doc, setDoc] = useState(null);
  const [loadErr, setLoadErr] = useState(null);
  const [initial, setInitial] = useState(null);
  const [v, setV] = useState(null);
  const [saving, setSaving] = useState(false);
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(null);
  const [showAndroid, setShowAndroid] = useState(false);

  const load = (d) => {
    const f = formFromConfig(d);
    setDoc(d); setInitial(f); setV(JSON.parse(JSON.stringify(f)));
  };
  useEffect(() => {
    let live = true;
    call('GET', path(name, '/config')).then((d) => { if (live) load(d); })
      .catch((e) => { if (live) setLoadErr(e.status === 404 ? 'This container has no saved config.' : errorText(e)); });
    return () => { live = false; };
  }, [name]);

  if (loadErr) return <section class="panel"><h3>Config</h3><div class="muted" data-testid="config-missing">{loadErr}</div></section>;
  if (!v) return <section class="panel"><h3>Config</h3><div class="muted">Loading…</div></section>;

  const changes = changedOptions(initial, v);
  const nChanged = Object.keys(changes).length;
  const set = (k, val) => { setV(Object.assign({}, v, { [k]: val })); setSaved(null); };
  const submit = async (e) => {
    e.preventDefault();
    if (!nChanged) return;
    setSaving(true); setErr(null); setSaved(null);
    try {
      const d = await call('PUT', path(name), { options: changes });
      load(d);
      setSaved('Saved: ' + Object.keys(changes).join(', ') + '. It applies at the next start.');
      if (onSaved) onSaved(d);
    } catch (ex) {
      setErr(ex.detail || errorText(ex));
    } finally {
      setSaving(false);
    }
  };
  const isAndroid = !!android;
  return (
    <section class="panel" aria-labelledby="c-config-h">
      <form onSubmit={submit} data-testid="config-form" noValidate>
        <div class="toolbar">
          <h3 id="c-config-h" style={{ margin: 0, flex: '1 1 auto' }}>Config</h3>
          <span class="muted small" data-testid="config-changed">{nChanged ? nChanged + ' changed' : 'no changes'}</span>
          <button type="submit" class="primary" data-testid="save-config" disabled={saving || !nChanged}>{saving ? 'Saving…' : 'Save'}</button>
        </div>
        {err && <div class="banner error" data-testid="config-error" aria-live="assertive">{err}</div>}
        {saved && <div class="banner ok" data-testid="config-saved" aria-live="polite">{saved}</div>}
        <div class="muted small" style={{ marginBottom: '8px' }}>File: <span class="mono">{doc.path}</span></div>
        <div style={FORM_GRID}>
          {TEXT_FIELDS.map(([opt, label, , hint]) => (
            <Field key={opt} id={'cf-' + opt} label={label} hint={hint}>
              <input id={'cf-' + opt} name={opt} value={v[opt]} autocomplete="off" spellcheck={false}
                onInput={(e) => set(opt, e.currentTarget.value)} />
            </Field>
          ))}
          <Field id="cf-env" label="Environment file" hint="KEY=VALUE lines; a path on the host">
            <input id="cf-env" name="env" value={v.env} autocomplete="off" spellcheck={false}
              onInput={(e) => set('env', e.currentTarget.value)} />
          </Field>
          <Field id="cf-net" label="Network" hint="nat and gateway are not in this build">
            <select id="cf-net" name="net" value={v.net} onChange={(e) => set('net', e.currentTarget.value)}>
              {NET_MODES.map(([m, label, ok]) => (
                <option key={m} value={m} disabled={!ok && v.net !== m}>{label}</option>
              ))}
            </select>
          </Field>
          <Field id="cf-hw" label="Hardware access" hint="start refuses hw-access and gpu in this build">
            <select id="cf-hw" name="hw-access" value={v['hw-access']} onChange={(e) => set('hw-access', e.currentTarget.value)}>
              <option value="none">none</option>
              <option value="full">all host devices (hw-access)</option>
              <option value="gpu">GPU render nodes only (gpu)</option>
            </select>
          </Field>
        </div>
        <div style={{ marginTop: '10px' }}>
          {SWITCHES.filter((s) => !s[3]).map(([opt, , label]) => (
            <Check key={opt} name={opt} checked={v[opt]} label={label} onChange={(c) => set(opt, c)} />
          ))}
          <details open={showAndroid || isAndroid || SWITCHES.some((s) => s[3] && v[s[0]])}
            onToggle={(e) => setShowAndroid(e.currentTarget.open)}>
            <summary style={{ minHeight: '40px', display: 'flex', alignItems: 'center', cursor: 'pointer' }}>Android only</summary>
            {SWITCHES.filter((s) => s[3]).map(([opt, , label]) => (
              <Check key={opt} name={opt} checked={v[opt]} label={label} onChange={(c) => set(opt, c)} />
            ))}
          </details>
        </div>
        <BindEditor rows={v.bind} setRows={(rows) => set('bind', rows)} />
      </form>
    </section>
  );
}

// ------------------------------------------------------------------ autostart

function Autostart({ name }) {
  const [entry, setEntry] = useState(null);
  const [on, setOn] = useState(false);
  const [prio, setPrio] = useState('');
  const [err, setErr] = useState(null);
  const [note, setNote] = useState(null);
  const [busy, setBusy] = useState(false);
  const [order, setOrder] = useState([]);

  const apply = (doc) => {
    const list = (doc && doc.containers) || [];
    setOrder(list.filter((c) => c.run_at_boot).map((c) => c.name));
    const e = list.find((c) => c.name === name) || { name, run_at_boot: false, priority: null };
    setEntry(e); setOn(!!e.run_at_boot); setPrio(e.priority === null || e.priority === undefined ? '' : String(e.priority));
  };
  useEffect(() => {
    let live = true;
    call('GET', '/autostart').then((d) => { if (live) apply(d); }).catch((e) => { if (live) setErr(errorText(e)); });
    return () => { live = false; };
  }, [name]);

  const dirty = entry && (on !== !!entry.run_at_boot || prio.trim() !== (entry.priority == null ? '' : String(entry.priority)));
  const save = async (e) => {
    e.preventDefault();
    setBusy(true); setErr(null); setNote(null);
    const p = prio.trim();
    const body = { containers: [{ name, run_at_boot: on, priority: p === '' ? null : (/^\d+$/.test(p) ? Number(p) : p) }] };
    try {
      apply(await call('PUT', '/autostart', body));
      setNote('Saved.');
    } catch (ex) {
      setErr(ex.detail || errorText(ex));
    } finally {
      setBusy(false);
    }
  };
  const pos = order.indexOf(name);
  return (
    <section class="panel" aria-labelledby="c-boot-h">
      <form onSubmit={save} data-testid="autostart-form">
        <h3 id="c-boot-h">Start at boot</h3>
        <Check name="run-at-boot" checked={on} onChange={(c) => { setOn(c); setNote(null); }}
          label="Start this container when the device boots" disabled={!entry} />
        <div style={ROW}>
          <label for="c-boot-prio">Priority (lowest starts first)</label>
          <input id="c-boot-prio" name="run-at-boot-priority" type="number" min="0" max="9999" inputMode="numeric"
            style={{ width: '120px' }} value={prio} placeholder="none" disabled={!entry}
            onInput={(e) => { setPrio(e.currentTarget.value); setNote(null); }} />
          <button type="submit" data-testid="save-autostart" disabled={busy || !dirty}>{busy ? 'Saving…' : 'Save'}</button>
        </div>
        {pos >= 0 && <div class="muted small" data-testid="boot-position">Boot order: {pos + 1} of {order.length} ({order.join(' → ')})</div>}
        {err && <div class="banner error" data-testid="autostart-error">{err}</div>}
        {note && <div class="muted small" data-testid="autostart-saved" aria-live="polite">{note}</div>}
      </form>
    </section>
  );
}

// ------------------------------------------------------------------ console

// Keeps the last CONSOLE_MAX_LINES lines; the last element is the line being written.
function consoleBuffer() {
  let lines = [''];
  const clean = (t) => String(t).replace(/\r\n/g, '\n').replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\x1b\][^\x07]*\x07/g, '').replace(/\r/g, '');
  return {
    reset(initial) { lines = (initial || []).map(clean).concat(['']); this.trim(); },
    append(text) {
      const parts = clean(text).split('\n');
      lines[lines.length - 1] += parts[0];
      for (let i = 1; i < parts.length; i++) lines.push(parts[i]);
      this.trim();
    },
    trim() { if (lines.length > CONSOLE_MAX_LINES + 1) lines = lines.slice(lines.length - CONSOLE_MAX_LINES - 1); },
    text() { return lines.length > 1 && lines[lines.length - 1] === '' ? lines.slice(0, -1).join('\n') : lines.join('\n'); },
  };
}

function ConsolePane({ name, running }) {
  const buf = useRef(null);
  if (!buf.current) buf.current = consoleBuffer();
  const pre = useRef(null);
  const stick = useRef(true);
  const [text, setText] = useState('');
  const [status, setStatus] = useState('loading');
  const [err, setErr] = useState(null);
  const [gen, setGen] = useState(0);
  const [starting, setStarting] = useState(false);

  useEffect(() => {
    let live = true;
    const ac = new AbortController();
    let timer = null;
    const flush = () => { timer = null; if (live) setText(buf.current.text()); };
    const schedule = () => { if (!timer) timer = setTimeout(flush, 50); };
    (async () => {
      setErr(null);
      try {
        const d = await call('GET', path(name, '/console?lines=200'));
        if (!live) return;
        buf.current.reset(d.lines || []);
        flush();
        setStatus(d.truncated ? 'older lines not shown' : 'log');
      } catch (e) {
        if (!live) return;
        if (e.status === 404) { buf.current.reset([]); flush(); setStatus('no console log yet'); } else setErr(errorText(e));
      }
      if (!running || !live) return;
      if (!(await serverAvailable())) { if (live) setStatus('no-server'); return; }
      if (!live) return;
      setStatus('live');
      let first = true;
      try {
        await stream(path(name, '/console?follow=1&lines=200'), {
          signal: ac.signal,
          onEvent(type, data) {
            if (!live) return;
            if (type === 'console' && data && typeof data.text === 'string') {
              if (first) { buf.current.reset([]); first = false; }
              buf.current.append(data.text);
              schedule();
            } else if (type === 'end') {
              setStatus('the container stopped');
            }
          },
        });
        if (live) setStatus((s) => (s === 'live' ? 'stream ended' : s));
      } catch (e) {
        if (live) { setErr(errorText(e)); setStatus('log'); }
      }
    })();
    return () => { live = false; ac.abort(); if (timer) clearTimeout(timer); };
  }, [name, running, gen]);

  useLayoutEffect(() => {
    const el = pre.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [text]);
  const onScroll = () => {
    const el = pre.current;
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };
  const doStart = async () => {
    setStarting(true); setErr(null);
    try {
      await startServer();
      window.dispatchEvent(new Event('droidspaces-server-started'));
    } catch (e) { setErr(errorText(e)); } finally { setStarting(false); }
  };
  // A server started here or by the terminal: go live.
  useEffect(() => {
    const on = () => setGen((g) => g + 1);
    window.addEventListener('droidspaces-server-started', on);
    return () => window.removeEventListener('droidspaces-server-started', on);
  }, []);
  return (
    <section class="panel" aria-labelledby="c-console-h">
      <div class="toolbar">
        <h3 id="c-console-h" style={{ margin: 0, flex: '1 1 auto' }}>Console</h3>
        <span class="muted small" data-testid="console-status">{status === 'no-server' ? 'not live' : status}</span>
        <button type="button" data-testid="console-reload" onClick={() => setGen(gen + 1)}>Reload</button>
      </div>
      {status === 'no-server' && (
        <div class="banner warn" data-testid="console-no-server">
          <span>The live console needs the Droidspaces server, which is not running.</span>
          <button type="button" data-testid="start-server" disabled={starting} onClick={doStart}>{starting ? 'Starting…' : 'Start server'}</button>
        </div>
      )}
      {err && <div class="banner error" data-testid="console-error">{err}</div>}
      <pre ref={pre} class="mono" data-testid="console" style={CONSOLE_STYLE} tabIndex={0} aria-label="Console output"
        onScroll={onScroll}>{text}</pre>
    </section>
  );
}

// ------------------------------------------------------------------ run a command

function RunBox({ name, running }) {
  const [cmd, setCmd] = useState('');
  const [user, setUser] = useState('');
  const [busy, setBusy] = useState(false);
  const [res, setRes] = useState(null);
  const [err, setErr] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    if (!cmd.trim()) return;
    setBusy(true); setErr(null); setRes(null);
    const body = { command: cmd };
    if (user.trim()) body.user = user.trim();
    try { setRes(await call('POST', path(name, '/run'), body)); } catch (ex) { setErr(ex.detail || errorText(ex)); } finally { setBusy(false); }
  };
  return (
    <section class="panel" aria-labelledby="c-run-h">
      <h3 id="c-run-h">Run a command</h3>
      <form onSubmit={submit} style={ROW}>
        <input style={{ flex: '3 1 200px', width: 'auto' }} class="mono" data-testid="run-cmd" name="command" aria-label="Command (one shell line)"
          placeholder={running ? 'e.g. uname -a' : 'the container is stopped'} value={cmd} autocomplete="off" spellcheck={false}
          autocapitalize="off" onInput={(e) => setCmd(e.currentTarget.value)} />
        <input style={{ flex: '1 1 90px', width: 'auto' }} data-testid="run-user" name="user" aria-label="User (default root)"
          placeholder="user: root" value={user} autocomplete="off" onInput={(e) => setUser(e.currentTarget.value)} />
        <button type="submit" class="primary" data-testid="run-submit" disabled={busy || !cmd.trim()}>{busy ? 'Running…' : 'Run'}</button>
      </form>
      <div data-testid="run-output" aria-live="polite">
        {err && <div class="banner error" data-testid="run-error">{err}</div>}
        {res && (
          <div>
            <div>Exit code <strong data-testid="run-exit">{String(res.exit_code)}</strong>
              {res.truncated ? <span class="muted small"> (output truncated)</span> : null}</div>
            {res.error && <div class="banner warn" data-testid="run-run-error">{res.error}</div>}
            {(res.warnings || []).map((w, i) => <div key={i} class="muted small">{w}</div>)}
            <div class="muted small">stdout</div>
            <pre class="mono" data-testid="run-stdout" style={PRE_STYLE}>{res.stdout || ''}</pre>
            {res.stderr ? [<div key="l" class="muted small">stderr</div>,
              <pre key="p" class="mono" data-testid="run-stderr" style={PRE_STYLE}>{res.stderr}</pre>] : null}
          </div>
        )}
      </div>
    </section>
  );
}

// ------------------------------------------------------------------ delete

function DeleteBox({ name, running }) {
  const [step, setStep] = useState(0);
  const [rootfs, setRootfs] = useState(false);
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState(null);
  const ok = !rootfs || typed === name;
  const go = async () => {
    setBusy(true); setErr(null);
    try {
      await call('DELETE', path(name), rootfs ? { remove_rootfs: true, confirm: typed } : undefined);
      location.hash = '#/';
    } catch (ex) {
      setErr(ex.detail || errorText(ex));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="panel" aria-labelledby="c-del-h">
      <h3 id="c-del-h">Delete</h3>
      {step === 0 ? (
        <div>
          <p class="muted small">Removes the saved config. The rootfs is kept unless you ask for it to go as well.
            {running ? ' Stop the container first.' : ''}</p>
          <button type="button" class="danger" data-testid="delete" onClick={() => setStep(1)}>Delete this container…</button>
        </div>
      ) : (
        <div data-testid="delete-confirm-box">
          <p>Delete <strong>{name}</strong>?</p>
          <Check name="remove-rootfs" testid="delete-rootfs" checked={rootfs} onChange={(c) => { setRootfs(c); setTyped(''); }}
            label="Also delete the rootfs (its files are gone for good)" />
          {rootfs && (
            <div class="field">
              <label for="c-del-name">Type the name to confirm</label>
              <input id="c-del-name" data-testid="delete-confirm-name" value={typed} autocomplete="off" spellcheck={false}
                onInput={(e) => setTyped(e.currentTarget.value)} />
            </div>
          )}
          <div style={ROW}>
            <button type="button" class="danger" data-testid="delete-confirm" disabled={busy || !ok} onClick={go}>
              {busy ? 'Deleting…' : rootfs ? 'Delete config and rootfs' : 'Delete config'}</button>
            <button type="button" data-testid="delete-cancel" onClick={() => { setStep(0); setRootfs(false); setTyped(''); setErr(null); }}>Cancel</button>
          </div>
          {err && <div class="banner error" data-testid="delete-error">{err}</div>}
        </div>
      )}
    </section>
  );
}

// ------------------------------------------------------------------ the screen

export default function Container(props) {
  const name = props.name;
  const [info, setInfo] = useState(null);
  const [infoErr, setInfoErr] = useState(null);
  const [busy, setBusy] = useState(null);
  const [actionErr, setActionErr] = useState(null);
  const [actionNote, setActionNote] = useState(null);
  const [term, setTerm] = useState(false);
  const tick = useRef(0);

  const refresh = async () => {
    const my = ++tick.current;
    try {
      const d = await call('GET', path(name));
      if (my === tick.current) { setInfo(d); setInfoErr(null); }
    } catch (e) {
      if (my === tick.current) setInfoErr(e.status === 404 ? 'No container named "' + name + '".' : errorText(e));
    }
  };
  useEffect(() => {
    refresh();
    const t = setInterval(() => { if (!document.hidden) refresh(); }, POLL_MS);
    return () => { clearInterval(t); tick.current++; };
  }, [name]);

  const onAction = async (what) => {
    setBusy(what === 'start' ? 'starting' : what === 'stop' ? 'stopping' : 'restarting');
    setActionErr(null); setActionNote(null);
    try {
      const r = await call('POST', path(name, '/' + what), what === 'start' ? undefined : {});
      if (r && r.warnings && r.warnings.length) setActionNote(r.warnings.join('\n'));
    } catch (e) {
      setActionErr(what + ': ' + (e.detail || errorText(e)));
    } finally {
      setBusy(null);
      refresh();
    }
  };
  const running = !!(info && info.state === 'RUNNING');
  return (
    <div data-testid="container-screen">
      <p style={{ margin: '0 0 8px' }}><a href="#/" data-testid="back">← All containers</a></p>
      <InfoPanel name={name} info={info} infoErr={infoErr} onAction={onAction} busy={busy}
        actionErr={actionErr} actionNote={actionNote} />
      <section class="panel" aria-labelledby="c-term-h">
        <div class="toolbar">
          <h3 id="c-term-h" style={{ margin: 0, flex: '1 1 auto' }}>Terminal</h3>
          {term
            ? <button type="button" data-testid="close-terminal" onClick={() => setTerm(false)}>Close terminal</button>
            : <button type="button" class="primary" data-testid="open-terminal" disabled={!running} onClick={() => setTerm(true)}>Open a terminal</button>}
        </div>
        {!running && !term && <div class="muted small">The terminal needs a running container.</div>}
        {term && <Terminal name={name} onExit={() => { /* keep the last screen visible */ }} />}
      </section>
      {(info || infoErr) && <ConsolePane name={name} running={running} />}
      <RunBox name={name} running={running} />
      {info && info.features !== null && <ConfigForm name={name} onSaved={() => refresh()} android={!!(info.host && info.host.platform === 'Android')} />}
      {info && info.features !== null && <Autostart name={name} />}
      {info && <DeleteBox name={name} running={running} />}
    </div>
  );
}
