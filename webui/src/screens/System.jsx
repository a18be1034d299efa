import { useEffect, useState } from 'preact/hooks';
import { call, transportKind, serverAvailable, startServer } from '../api.js';
import { errorText } from '../util.js';

const SECTIONS = [
  ['required', 'Required'],
  ['recommended', 'Recommended'],
  ['optional', 'Optional'],
];

function CheckList({ id, title, items }) {
  const list = Array.isArray(items) ? items : [];
  const missing = list.filter((x) => !x.ok).length;
  return (
    <section class="panel" data-testid={'check-' + id} aria-labelledby={'check-h-' + id}>
      <h3 id={'check-h-' + id}>
        {title} <span class="muted small">{missing ? missing + ' of ' + list.length + ' missing' : 'all ' + list.length + ' present'}</span>
      </h3>
      <ul class="checks">
        {list.map((x, i) => (
          <li key={x.name + i}>
            <span class={'badge ' + (x.ok ? 'ok' : id === 'required' ? 'missing' : 'soft')}>{x.ok ? 'ok' : 'missing'}</span>
            <span>{x.name}</span>
            {x.detail ? <span class="detail">{x.detail}</span> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

function fmtTime(unix) {
  if (!unix) return '–';
  try { return new Date(Number(unix) * 1000).toLocaleString(); } catch (e) { return String(unix); }
}

function ServerPanel({ sys, onChanged }) {
  const ksu = transportKind() === 'ksu';
  const [live, setLive] = useState(ksu ? null : true);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState(null);
  useEffect(() => {
    if (ksu) serverAvailable().then(setLive, () => setLive(false));
  }, [sys]);
  const s = sys && sys.server;
  async function start() {
    setBusy(true);
    setErr(null);
    try {
      await startServer();
      setLive(true);
      onChanged();
    } catch (e) {
      setErr(errorText(e));
    } finally {
      setBusy(false);
    }
  }
  let status;
  if (s) status = 'running (PID ' + s.pid + ', port ' + s.port + ')';
  else if (live === null) status = 'checking…';
  else if (live) status = 'running';
  else status = 'not running';
  return (
    <section class="panel" aria-labelledby="server-h" data-testid="server">
      <h3 id="server-h">Server</h3>
      <dl class="kv">
        <dt>Status</dt><dd data-testid="server-status">{status}</dd>
        <dt>Transport</dt><dd>{ksu ? 'KernelSU (droidspaces api)' : 'HTTP'}</dd>
        {s && <><dt>Listening</dt><dd>{Array.isArray(s.listen) ? s.listen.join(', ') : String(s.listen || '–')}</dd></>}
        {s && <><dt>Started</dt><dd>{fmtTime(s.started_at)}</dd></>}
      </dl>
      {ksu && live === false && (
        <p class="small muted">The console, the terminal and uploads need the server.</p>
      )}
      {ksu && live === false && (
        <button type="button" class="primary" data-testid="start-server" disabled={busy} onClick={start}>
          {busy ? 'Starting…' : 'Start server'}
        </button>
      )}
      {err && <div class="banner error" role="alert">{err}</div>}
    </section>
  );
}

export default function System() {
  const [sys, setSys] = useState(null);
  const [check, setCheck] = useState(null);
  const [err, setErr] = useState(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let alive = true;
    setErr(null);
    Promise.all([call('GET', '/system'), call('GET', '/check')]).then(([s, c]) => {
      if (!alive) return;
      setSys(s);
      setCheck(c);
    }, (e) => { if (alive) setErr(errorText(e)); });
    return () => { alive = false; };
  }, [tick]);

  const cg = (sys && sys.cgroup) || (check && check.cgroup) || {};
  return (
    <section aria-labelledby="system-h">
      <div class="toolbar">
        <h2 id="system-h">System</h2>
        <button type="button" onClick={() => setTick(tick + 1)}>Refresh</button>
      </div>
      {err && <div class="banner error" role="alert">{err}</div>}
      {!sys && !err && <p class="muted">Loading…</p>}
      {check && (
        <div class={'banner ' + (check.ok ? 'ok' : 'error')} data-testid="check-summary">
          {check.ok
            ? 'This machine has every required feature.'
            : check.missing_required + ' required feature' + (check.missing_required === 1 ? ' is' : 's are') + ' missing: containers cannot start.'}
        </div>
      )}
      {sys && (
        <section class="panel" aria-labelledby="host-h">
          <h3 id="host-h">Host</h3>
          <dl class="kv" data-testid="system-info">
            <dt>Version</dt><dd>{sys.version || '–'}{sys.upstream_compatible ? ' (upstream ' + sys.upstream_compatible + ')' : ''}</dd>
            <dt>Kernel</dt><dd>{sys.kernel || '–'}</dd>
            <dt>Arch</dt><dd>{sys.arch || '–'}</dd>
            <dt>Platform</dt><dd>{sys.platform || '–'}</dd>
            <dt>Cgroups</dt><dd>{(cg.layout || '–') + (cg.v2_root ? ' (v2 at ' + cg.v2_root + ')' : '')}</dd>
            <dt>Workspace</dt><dd class="mono">{sys.workspace || '–'}</dd>
            {check && <><dt>Root</dt><dd>{check.root ? 'yes' : 'no'}</dd></>}
          </dl>
        </section>
      )}
      {sys && <ServerPanel sys={sys} onChanged={() => setTick(tick + 1)} />}
      {check && check.sections && SECTIONS.map(([id, title]) => (
        <CheckList key={id} id={id} title={title} items={check.sections[id]} />
      ))}
    </section>
  );
}
