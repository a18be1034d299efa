import { useEffect, useRef, useState } from 'preact/hooks';
import { call } from '../api.js';
import { formatBytes, formatUptime, formatPercent, errorText } from '../util.js';

const REFRESH_MS = 2000;

const enc = (name) => encodeURIComponent(name);

// CPU % from the cpu_usage_usec delta between two refreshes (100 % = one core busy).
function cpuPercent(prev, cur, now) {
  if (!prev || !cur || prev.pid !== cur.pid) return null;
  const a = prev.usec, b = cur.usec;
  if (a === null || a === undefined || b === null || b === undefined || b < a) return null;
  const wallUs = (now - prev.at) * 1000;
  if (wallUs <= 0) return null;
  return ((b - a) / wallUs) * 100;
}

function Stat({ label, value, title, wide }) {
  return (
    <div class={wide ? 'stat wide' : 'stat'} title={title}>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

function Card({ c, os, cpu, busy, error, onAction, onDismiss }) {
  const running = c.state === 'RUNNING';
  const u = c.usage || {};
  const mem = u.memory_bytes === null || u.memory_bytes === undefined ? '–'
    : formatBytes(u.memory_bytes) + (u.memory_limit_bytes ? ' / ' + formatBytes(u.memory_limit_bytes) : '');
  const pids = u.pids === null || u.pids === undefined ? '–'
    : String(u.pids) + (u.pids_limit ? ' / ' + u.pids_limit : '');
  const warnings = c.config_warnings || [];
  const sub = c.config_error ? 'config error: ' + c.config_error
    : warnings.length ? 'config: ' + warnings[0] + (warnings.length > 1 ? ` (+${warnings.length - 1} more)` : '')
    : [os || (running ? '' : c.rootfs || ''), c.net ? 'net ' + c.net : ''].filter(Boolean).join(' · ');
  const stateText = busy ? busy.toUpperCase() + '…' : c.state;
  return (
    <article class="card" data-testid={'card-' + c.name} aria-busy={busy ? 'true' : 'false'}>
      <div class="card-head">
        <a class="card-title" href={'#/c/' + enc(c.name)} title={c.name}>{c.name}</a>
        <span class={'state' + (busy ? ' busy' : running ? ' running' : '')}
              data-testid={'state-' + c.name}>{stateText}</span>
      </div>
      <div class="card-sub small" title={sub}>{sub || '\u00a0'}</div>
      <dl class="stats">
        <Stat label="Init" value={running ? (c.init || '–') : '–'} />
        <Stat label="Uptime" value={running ? formatUptime(c.uptime_seconds) : '–'} />
        <Stat label="CPU" value={running ? formatPercent(cpu) : '–'} title="of one core" />
        <Stat label="Memory" value={running ? mem : '–'} wide />
        <Stat label="PIDs" value={running ? pids : '–'} />
      </dl>
      {error && (
        <div class={error.warn ? 'banner warn' : 'banner error'} role={error.warn ? 'status' : 'alert'}>
          <span>{error.text}</span>
          <button type="button" class="link" aria-label="Dismiss" onClick={onDismiss}>×</button>
        </div>
      )}
      <div class="actions">
        <button type="button" class="primary" data-testid={'start-' + c.name}
                disabled={!!busy || running || !!c.config_error} onClick={() => onAction(c.name, 'start')}>Start</button>
        <button type="button" data-testid={'stop-' + c.name}
                disabled={!!busy || !running} onClick={() => onAction(c.name, 'stop')}>Stop</button>
        <button type="button" data-testid={'restart-' + c.name}
                disabled={!!busy || !running || !!c.config_error} onClick={() => onAction(c.name, 'restart')}>Restart</button>
      </div>
    </article>
  );
}

export default function Containers() {
  const [list, setList] = useState(null);      // null until the first answer
  const [loadError, setLoadError] = useState(null);
  const [busy, setBusy] = useState({});        // name -> 'start' | 'stop' | 'restart'
  const [errors, setErrors] = useState({});    // name -> message
  const [cpu, setCpu] = useState({});          // name -> percent
  const [os, setOs] = useState({});            // name -> PRETTY_NAME (running containers)
  const samples = useRef({});                  // name -> {usec, pid, at}
  const osFor = useRef({});                    // name -> pid the os was read for
  const alive = useRef(true);
  const timer = useRef(null);
  const inflight = useRef(false);
  const again = useRef(false);

  async function refresh() {
    if (inflight.current) { again.current = true; return; }
    inflight.current = true;
    again.current = false;
    try {
      const doc = await call('GET', '/containers');
      if (!alive.current) return;
      const arr = Array.isArray(doc) ? doc : [];
      const now = Date.now();
      const nextCpu = {};
      const nextSamples = {};
      for (const c of arr) {
        if (c.state !== 'RUNNING') continue;
        const s = { usec: c.usage ? c.usage.cpu_usage_usec : null, pid: c.pid, at: now };
        nextCpu[c.name] = cpuPercent(samples.current[c.name], s, now);
        nextSamples[c.name] = s;
        // The distribution's name comes from `info`, once per boot.
        if (osFor.current[c.name] !== c.pid) {
          osFor.current[c.name] = c.pid;
          call('GET', '/containers/' + enc(c.name)).then((info) => {
            if (alive.current && info && info.os) setOs((o) => Object.assign({}, o, { [c.name]: info.os }));
          }).catch(() => { osFor.current[c.name] = null; });
        }
      }
      samples.current = nextSamples;
      setCpu(nextCpu);
      setList(arr);
      setLoadError(null);
    } catch (e) {
      if (alive.current) setLoadError(errorText(e));
    } finally {
      inflight.current = false;
      if (again.current && alive.current) refresh();
    }
  }

  function schedule() {
    if (!alive.current) return;
    timer.current = setTimeout(async () => {
      if (!document.hidden) await refresh();
      schedule();
    }, REFRESH_MS);
  }

  useEffect(() => {
    alive.current = true;
    refresh().then(schedule);
    const onVis = () => { if (!document.hidden) refresh(); };
    document.addEventListener('visibilitychange', onVis);
    return () => {
      alive.current = false;
      clearTimeout(timer.current);
      document.removeEventListener('visibilitychange', onVis);
    };
  }, []);

  async function onAction(name, action) {
    setBusy((b) => Object.assign({}, b, { [name]: action }));
    setErrors((e) => Object.assign({}, e, { [name]: null }));
    try {
      const body = action === 'start' ? undefined : { timeout_seconds: 15 };
      const r = await call('POST', '/containers/' + enc(name) + '/' + action, body);
      if (r && Array.isArray(r.warnings) && r.warnings.length && alive.current) {
        setErrors((e) => Object.assign({}, e, { [name]: { warn: true, text: 'warning: ' + r.warnings.join('; ') } }));
      }
    } catch (e) {
      if (alive.current) setErrors((x) => Object.assign({}, x, { [name]: { text: errorText(e) } }));
    } finally {
      if (alive.current) {
        setBusy((b) => { const n = Object.assign({}, b); delete n[name]; return n; });
        refresh();
      }
    }
  }

  return (
    <section aria-labelledby="containers-h">
      <div class="toolbar">
        <h2 id="containers-h">Containers</h2>
        <a class="button" href="#/new">New container</a>
      </div>
      {loadError && <div class="banner error" role="alert">{loadError}</div>}
      {list === null && !loadError && <p class="muted">Loading…</p>}
      {list !== null && list.length === 0 && (
        <div class="panel empty" data-testid="empty">
          <p>No containers yet.</p>
          <a class="button primary" href="#/new">Create or install one</a>
        </div>
      )}
      {list !== null && list.length > 0 && (
        <div class="cards">
          {list.map((c) => (
            <Card key={c.name} c={c} os={os[c.name]} cpu={cpu[c.name]} busy={busy[c.name]}
                  error={errors[c.name]} onAction={onAction}
                  onDismiss={() => setErrors((e) => Object.assign({}, e, { [c.name]: null }))} />
          ))}
        </div>
      )}
    </section>
  );
}
