// A terminal in the container: xterm.js, loaded only when a terminal is opened (dynamic
// import(), its own chunk). POST .../terminal -> id; output from the SSE stream (base64);
// keystrokes -> POST .../input; fit to the panel (ResizeObserver) -> POST .../resize;
// closing (unmount) -> DELETE. Under KernelSU without a server: a message and a start button.
import { useEffect, useRef, useState } from 'preact/hooks';
import { callLive, stream, serverAvailable, startServer } from '../api.js';
import { errorText } from '../util.js';

// The page's CSP has no 'unsafe-inline' for styles, so no <style> element may carry rules:
// they go in through the CSSOM instead (a constructed sheet; on old WebViews without one, rules
// appended to our own same-origin stylesheet). set(text) replaces the sheet's rules.
function cssSheet() {
  try {
    if (typeof CSSStyleSheet === 'function' && 'adoptedStyleSheets' in document && 'replaceSync' in CSSStyleSheet.prototype) {
      const s = new CSSStyleSheet();
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, s];
      return {
        set(text) { try { s.replaceSync(text); } catch (e) { /* ignore */ } },
        remove() { document.adoptedStyleSheets = document.adoptedStyleSheets.filter((x) => x !== s); },
      };
    }
  } catch (e) { /* fall back */ }
  let sheet = null;
  for (const s of Array.from(document.styleSheets)) {
    try { if (s.cssRules && !sheet) sheet = s; } catch (e) { /* cross-origin */ }
  }
  let mine = [];
  const clear = () => {
    if (!sheet) return;
    for (const r of mine) {
      const i = Array.prototype.indexOf.call(sheet.cssRules, r);
      if (i >= 0) sheet.deleteRule(i);
    }
    mine = [];
  };
  return {
    set(text) {
      clear();
      if (!sheet) return;
      const body = String(text).replace(/\/\*[\s\S]*?\*\//g, '');
      let depth = 0;
      let start = 0;
      for (let i = 0; i < body.length; i++) {
        if (body[i] === '{') depth++;
        else if (body[i] === '}' && --depth === 0) {
          const rule = body.slice(start, i + 1).trim();
          start = i + 1;
          try {
            const at = sheet.insertRule(rule, sheet.cssRules.length);
            mine.push(sheet.cssRules[at]);
          } catch (e) { /* a rule the engine refuses */ }
        }
      }
    },
    remove: clear,
  };
}

let cssDone = false;
function injectCss(text) {
  if (cssDone) return;
  cssDone = true;
  cssSheet().set(text);
}

// xterm's DOM renderer writes its theme and cell sizes into <style> elements, which the CSP
// blocks (a console error each time). While a terminal lives, document.createElement('style')
// gives a hidden inert element instead, and a MutationObserver copies its text into a CSSOM sheet.
const STYLE_TAG = 'ds-xterm-style';
let patched = 0;
let origCreate = null;
function patchCreateElement() {
  if (patched++ > 0) return;
  origCreate = Document.prototype.createElement;
  Document.prototype.createElement = function (tag, opts) {
    if (typeof tag === 'string' && tag.toLowerCase() === 'style') {
      const el = origCreate.call(this, STYLE_TAG);
      el.hidden = true;
      el.style.display = 'none';
      return el;
    }
    return origCreate.call(this, tag, opts);
  };
}
function unpatchCreateElement() {
  if (--patched > 0 || !origCreate) return;
  Document.prototype.createElement = origCreate;
  origCreate = null;
}
function mirrorStyles(root) {
  const sheets = new Map();
  const sync = () => {
    for (const el of Array.from(root.querySelectorAll(STYLE_TAG + ',style'))) {
      let m = sheets.get(el);
      if (!m) { m = { text: null, sheet: cssSheet() }; sheets.set(el, m); }
      const t = el.textContent || '';
      if (m.text !== t) { m.text = t; m.sheet.set(t); }
    }
    for (const [el, m] of Array.from(sheets)) {
      if (!root.contains(el)) { m.sheet.remove(); sheets.delete(el); }
    }
  };
  const mo = new MutationObserver(sync);
  mo.observe(root, { childList: true, subtree: true, characterData: true });
  sync();
  return () => {
    mo.disconnect();
    for (const m of sheets.values()) m.sheet.remove();
    sheets.clear();
  };
}

function b64ToBytes(b64) {
  const bin = atob(b64 || '');
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function theme() {
  const dark = typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches;
  return dark
    ? { background: '#0d1117', foreground: '#e6edf3', cursor: '#e6edf3', selectionBackground: '#264f78' }
    : { background: '#ffffff', foreground: '#1b1f24', cursor: '#1b1f24', selectionBackground: '#b6d6fd' };
}

const BOX = {
  height: '60vh', minHeight: '240px', maxHeight: '720px', padding: '4px', borderRadius: '8px',
  border: '1px solid var(--line)', overflow: 'hidden',
};

export default function Terminal(props) {
  const name = props.name;
  const host = useRef(null);
  const [status, setStatus] = useState('Loading the terminal…');
  const [err, setErr] = useState(null);
  const [needServer, setNeedServer] = useState(false);
  const [starting, setStarting] = useState(false);
  const [gen, setGen] = useState(0);

  useEffect(() => {
    let live = true;
    let term = null;
    let fit = null;
    let id = null;
    let ended = false;
    let ro = null;
    let onWinResize = null;
    let resizeTimer = null;
    let patchedHere = false;
    let unmirror = null;
    const ac = new AbortController();
    const base = '/containers/' + encodeURIComponent(name) + '/terminal';

    // Keystrokes in order, coalesced while a request is in flight.
    let pending = '';
    let sending = false;
    const flushInput = async () => {
      if (sending || !pending || id === null) return;
      sending = true;
      const data = pending;
      pending = '';
      try {
        await callLive('POST', base + '/' + id + '/input', { data });
      } catch (e) {
        if (live && !ended) setErr(errorText(e));
      } finally {
        sending = false;
        if (pending) flushInput();
      }
    };
    const sendBinary = (bin) => {
      if (id === null) return;
      callLive('POST', base + '/' + id + '/input', { base64: btoa(bin) }).catch(() => {});
    };
    const doFit = () => {
      if (!term || !fit || !host.current || host.current.clientWidth === 0) return;
      try { fit.fit(); } catch (e) { /* hidden */ }
    };

    (async () => {
      setErr(null);
      setNeedServer(false);
      if (!(await serverAvailable())) {
        if (live) { setNeedServer(true); setStatus(''); }
        return;
      }
      const [xt, fa, css] = await Promise.all([
        import('@xterm/xterm'), import('@xterm/addon-fit'), import('./xterm-css.js'),
      ]);
      if (!live) return;
      injectCss(css.default);
      patchCreateElement();
      patchedHere = true;
      term = new xt.Terminal({
        cursorBlink: true, scrollback: 2000, fontSize: 14, theme: theme(),
        fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace',
      });
      fit = new fa.FitAddon();
      term.loadAddon(fit);
      unmirror = mirrorStyles(host.current);
      term.open(host.current);
      doFit();
      const r = await callLive('POST', base, { rows: Math.max(1, Math.min(1000, term.rows)), cols: Math.max(1, Math.min(1000, term.cols)) });
      if (!live) {
        callLive('DELETE', base + '/' + r.id).catch(() => {});
        return;
      }
      id = r.id;
      term.onData((d) => { pending += d; flushInput(); });
      term.onBinary(sendBinary);
      term.onResize(({ rows, cols }) => {
        if (resizeTimer) clearTimeout(resizeTimer);
        resizeTimer = setTimeout(() => {
          const clamp = (n) => Math.max(1, Math.min(1000, n | 0));
          if (id !== null && !ended) callLive('POST', base + '/' + id + '/resize', { rows: clamp(rows), cols: clamp(cols) }).catch(() => {});
        }, 80);
      });
      if (typeof ResizeObserver === 'function') {
        ro = new ResizeObserver(() => doFit());
        ro.observe(host.current);
      } else {
        onWinResize = () => doFit();
        window.addEventListener('resize', onWinResize);
      }
      setStatus('Connected');
      term.focus();
      await stream(base + '/' + id, {
        signal: ac.signal,
        onEvent(type, data) {
          if (!live) return;
          if (type === 'output' && data && data.data) term.write(b64ToBytes(data.data));
          else if (type === 'exit') {
            ended = true;
            setStatus('The shell exited' + (data && data.exit_code != null ? ' (exit code ' + data.exit_code + ')' : '') + '.');
            if (props.onExit) props.onExit(data);
          }
        },
      });
      if (live && !ended) { ended = true; setStatus('The terminal ended.'); }
    })().catch((e) => {
      if (!live) return;
      if (e && e.error === 'no_server') { setNeedServer(true); setStatus(''); return; }
      setErr(errorText(e));
      setStatus('');
    });

    return () => {
      live = false;
      ac.abort();
      if (ro) ro.disconnect();
      if (onWinResize) window.removeEventListener('resize', onWinResize);
      if (resizeTimer) clearTimeout(resizeTimer);
      if (id !== null && !ended) callLive('DELETE', base + '/' + id).catch(() => {});
      if (term) term.dispose();
      if (unmirror) unmirror();
      if (patchedHere) unpatchCreateElement();
    };
  }, [name, gen]);

  // A server started here or by the console pane: try again.
  useEffect(() => {
    const on = () => setGen((g) => g + 1);
    window.addEventListener('droidspaces-server-started', on);
    return () => window.removeEventListener('droidspaces-server-started', on);
  }, []);

  const doStart = async () => {
    setStarting(true);
    setErr(null);
    try {
      await startServer();
      window.dispatchEvent(new Event('droidspaces-server-started'));
    } catch (e) {
      setErr(errorText(e));
    } finally {
      setStarting(false);
    }
  };

  // Keys: Preact may otherwise reuse the xterm host <div> for a banner that appears before it.
  return (
    <div data-testid="terminal-panel">
      {needServer && (
        <div key="noserver" class="banner warn" data-testid="terminal-no-server">
          <span>The terminal needs the Droidspaces server, which is not running.</span>
          <button type="button" data-testid="terminal-start-server" disabled={starting} onClick={doStart}>
            {starting ? 'Starting…' : 'Start server'}</button>
        </div>
      )}
      {err && <div key="err" class="banner error" data-testid="terminal-error">{err}</div>}
      {status && <div key="status" class="muted small" data-testid="terminal-status" aria-live="polite">{status}</div>}
      {!needServer && <div key="host" ref={host} data-testid="terminal" style={BOX} />}
    </div>
  );
}
