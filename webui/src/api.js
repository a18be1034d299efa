// The transport module: every screen talks to the API through these functions.
//
// HTTP (served by `droidspaces serve`/`daemon`): fetch with a bearer token taken from the URL
// fragment "#token=..." on first load (kept in sessionStorage, removed from the address bar).
// KSU (the KernelSU WebUI, window.ksu): `droidspaces api METHOD PATH BODY` through ksu.exec;
// live features (streams, uploads) use HTTP to the running server found with
// `droidspaces daemon --status --json`.

import { showError } from './util.js';

export const PREFIX = '/api/v1';
const TOKEN_KEY = 'droidspaces.token';
// The binary under KernelSU; a module may put it elsewhere (window.DROIDSPACES_BIN overrides).
const BIN = () => (typeof window !== 'undefined' && window.DROIDSPACES_BIN) || 'droidspaces';

export class ApiError extends Error {
  constructor(status, error, detail) {
    super(detail || error || 'HTTP ' + status);
    this.name = 'ApiError';
    this.status = status;
    this.error = error;
    this.detail = detail || '';
  }
}

// ---------------------------------------------------------------- token

let token = null;

// Reads "#token=..." (also "#/route?token=..." / "#/route&token=...") once, stores it, and
// removes it from the address bar without adding a history entry.
export function initToken() {
  try {
    const h = location.hash || '';
    const m = h.match(/(?:^#|[?&#/])token=([0-9A-Za-z_-]+)/);
    if (m) {
      token = m[1];
      try { sessionStorage.setItem(TOKEN_KEY, token); } catch (e) { /* storage off */ }
      let rest = h.replace(/[?&#]?token=[0-9A-Za-z_-]+/, '');
      if (rest === '' || rest === '#') rest = '#/';
      history.replaceState(null, '', location.pathname + location.search + rest);
    } else if (token === null) {
      try { token = sessionStorage.getItem(TOKEN_KEY); } catch (e) { token = null; }
    }
  } catch (e) { /* not a browser */ }
  return token;
}

export function getToken() {
  if (token === null) initToken();
  return token;
}

export function setToken(t) {
  token = t || null;
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch (e) { /* storage off */ }
}

// ---------------------------------------------------------------- transport kind

export function transportKind() {
  return typeof window !== 'undefined' && typeof window.ksu !== 'undefined' ? 'ksu' : 'http';
}

// POSIX single-quote escaping: 'it'\''s'
export function shellQuote(s) {
  return "'" + String(s).replace(/'/g, "'\\''") + "'";
}

// ---------------------------------------------------------------- ksu.exec

let cbSeq = 0;
export function ksuExec(cmd) {
  return new Promise((resolve, reject) => {
    const name = '__ds_cb_' + Date.now().toString(36) + '_' + (++cbSeq);
    window[name] = (errno, stdout, stderr) => {
      try { delete window[name]; } catch (e) { window[name] = undefined; }
      resolve({ errno: Number(errno), stdout: stdout == null ? '' : String(stdout),
                stderr: stderr == null ? '' : String(stderr) });
    };
    try {
      window.ksu.exec(cmd, '{}', name);
    } catch (e) {
      try { delete window[name]; } catch (e2) { /* ignore */ }
      reject(new ApiError(0, 'system', 'ksu.exec failed: ' + (e && e.message ? e.message : e)));
    }
  });
}

function parseDoc(text) {
  const t = (text || '').trim();
  if (t === '') return null;
  try { return JSON.parse(t); } catch (e) { return undefined; }
}

async function callKsu(method, path, body) {
  let cmd = BIN() + ' api ' + method + ' ' + shellQuote(PREFIX + path);
  if (body !== undefined && body !== null) cmd += ' ' + shellQuote(JSON.stringify(body));
  const r = await ksuExec(cmd);
  const doc = parseDoc(r.stdout);
  if (r.errno === 0) {
    if (doc === undefined) throw new ApiError(500, 'system', 'unreadable answer: ' + r.stdout.slice(0, 200));
    return doc;
  }
  const status = r.errno === 1 ? 400 : 500;
  if (doc && typeof doc === 'object' && doc.error) {
    const e = new ApiError(status, typeof doc.error === 'string' ? doc.error : doc.error.kind,
      doc.detail || (doc.error && doc.error.message) || r.stderr.trim());
    throw e;
  }
  throw new ApiError(status, r.errno === 127 ? 'not_installed' : 'system',
    (r.stderr || r.stdout || 'exit status ' + r.errno).trim());
}

// ---------------------------------------------------------------- HTTP

// Where HTTP goes: '' (same origin) when served by the server; http://127.0.0.1:PORT under ksu.
let httpBase = '';
let httpToken = null; // the token for httpBase when it is not the page's own

function authHeaders(extra) {
  const h = Object.assign({}, extra || {});
  const t = httpBase ? httpToken : getToken();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

async function errorFrom(res) {
  if (res.status === 401 && transportKind() === 'ksu') {
    serverInfo = null; // the server restarted with a new token: look it up again next time
  } else if (res.status === 401) {
    showError('The server refused the access token: open the dashboard with the address that '
      + '"droidspaces serve" (or "droidspaces daemon --status") prints, ending in #token=…');
  }
  let doc = null;
  try { doc = parseDoc(await res.text()); } catch (e) { doc = null; }
  if (doc && typeof doc === 'object' && doc.error) return new ApiError(res.status, doc.error, doc.detail);
  return new ApiError(res.status, 'http_' + res.status, res.statusText || 'HTTP ' + res.status);
}

async function callHttp(method, path, body, base) {
  const init = { method, headers: authHeaders({ Accept: 'application/json' }), cache: 'no-store' };
  if (body !== undefined && body !== null) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch((base || '') + PREFIX + path, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'the server cannot be reached (' + (e && e.message ? e.message : e) + ')');
  }
  if (!res.ok) throw await errorFrom(res);
  const doc = parseDoc(await res.text());
  if (doc === undefined) throw new ApiError(res.status, 'system', 'unreadable answer');
  return doc;
}

// call('GET', '/containers') -> the parsed JSON document; throws ApiError for non-2xx.
export async function call(method, path, body) {
  if (transportKind() === 'ksu') return callKsu(method, path, body);
  return callHttp(method, path, body, '');
}

// ---------------------------------------------------------------- live features

// Under ksu: finds the running server (port and token from its status URL); caches it.
let serverInfo = null; // {base, token} | null
async function ksuServer(refresh) {
  if (serverInfo && !refresh) return serverInfo;
  serverInfo = null;
  const r = await ksuExec(BIN() + ' daemon --status --json');
  const doc = parseDoc(r.stdout);
  const url = doc && typeof doc === 'object' ? doc.url : null;
  if (typeof url === 'string' && url) {
    const m = url.match(/^(https?:\/\/[^/#?]+)/);
    const t = url.match(/[#&?]token=([0-9A-Za-z_-]+)/);
    if (m && t) {
      // KernelSU's WebView permits cleartext to 127.0.0.1 only, never "localhost".
      serverInfo = { base: m[1].replace('//localhost', '//127.0.0.1'), token: t[1] };
    }
  }
  return serverInfo;
}

// True when streams, terminals and uploads can be used.
export async function serverAvailable() {
  if (transportKind() !== 'ksu') return true;
  try { return !!(await ksuServer(true)); } catch (e) { return false; }
}

async function liveBase() {
  if (transportKind() !== 'ksu') { httpBase = ''; return ''; }
  const s = await ksuServer(false) || await ksuServer(true);
  if (!s) throw new ApiError(0, 'no_server', 'the live features need the server: start it on the System screen');
  httpBase = s.base;
  httpToken = s.token;
  return s.base;
}

// Plain JSON call over HTTP even under ksu (terminal input/resize, install cancel).
export async function callLive(method, path, body) {
  if (transportKind() !== 'ksu') return callHttp(method, path, body, '');
  const base = await liveBase();
  return callHttp(method, path, body, base);
}

// An incremental Server-Sent-Events parser: feed(text) calls onEvent(type, data) per event.
export function sseParser(onEvent) {
  let buf = '';
  let type = 'message';
  let data = [];
  function line(l) {
    if (l === '') {
      if (data.length) {
        const raw = data.join('\n');
        let d;
        try { d = JSON.parse(raw); } catch (e) { d = raw; }
        onEvent(type, d);
      }
      type = 'message';
      data = [];
      return;
    }
    if (l[0] === ':') return;
    const i = l.indexOf(':');
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  }
  return function feed(text) {
    buf += text;
    let j;
    while ((j = buf.search(/\r\n|\n|\r/)) >= 0) {
      const l = buf.slice(0, j);
      buf = buf.slice(j + (buf[j] === '\r' && buf[j + 1] === '\n' ? 2 : 1));
      line(l);
    }
  };
}

// stream('/containers/web/console?follow=1', {onEvent(type, data), signal}) -> resolves when
// the stream ends (or is aborted through signal); throws ApiError for a non-2xx answer.
export async function stream(path, opts) {
  const o = opts || {};
  const base = await liveBase();
  const init = {
    method: o.method || 'GET',
    headers: authHeaders({ Accept: 'text/event-stream' }),
    cache: 'no-store',
    signal: o.signal,
  };
  if (o.body !== undefined && o.body !== null) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(o.body);
  }
  let res;
  try {
    res = await fetch(base + PREFIX + path, init);
  } catch (e) {
    if (e && e.name === 'AbortError') return;
    throw new ApiError(0, 'network', 'the server cannot be reached (' + (e && e.message ? e.message : e) + ')');
  }
  if (!res.ok) throw await errorFrom(res);
  const feed = sseParser(o.onEvent || (() => {}));
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      feed(dec.decode(value, { stream: true }));
    }
    feed(dec.decode() + '\n\n');
  } catch (e) {
    if (e && e.name === 'AbortError') return;
    throw new ApiError(0, 'network', 'the stream broke off (' + (e && e.message ? e.message : e) + ')');
  }
}

// upload(file, {name, filename, image_size, image_fs}, {onUploadProgress(loaded, total),
// onEvent(type, data), signal}) -> resolves with the last event {type, data} once the stream
// ends. XMLHttpRequest, because fetch cannot report upload progress.
export async function upload(file, query, opts) {
  const o = opts || {};
  const base = await liveBase();
  const q = new URLSearchParams();
  const qq = Object.assign({ filename: file && file.name }, query || {});
  for (const k of Object.keys(qq)) if (qq[k] !== undefined && qq[k] !== null && qq[k] !== '') q.set(k, String(qq[k]));
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    let last = null;
    let seen = 0;
    const feed = sseParser((type, data) => {
      last = { type, data };
      if (o.onEvent) o.onEvent(type, data);
    });
    const drain = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        const t = xhr.responseText || '';
        if (t.length > seen) { feed(t.slice(seen)); seen = t.length; }
      }
    };
    xhr.open('POST', base + PREFIX + '/install?' + q.toString());
    const h = authHeaders({ Accept: 'text/event-stream', 'Content-Type': 'application/octet-stream' });
    for (const k of Object.keys(h)) xhr.setRequestHeader(k, h[k]);
    if (xhr.upload && o.onUploadProgress) {
      xhr.upload.onprogress = (ev) => o.onUploadProgress(ev.loaded, ev.lengthComputable ? ev.total : (file && file.size) || 0);
    }
    xhr.onprogress = drain;
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        drain();
        feed('\n\n');
        resolve(last);
      } else {
        const doc = parseDoc(xhr.responseText);
        if (doc && doc.error) reject(new ApiError(xhr.status, doc.error, doc.detail));
        else reject(new ApiError(xhr.status, 'http_' + xhr.status, xhr.statusText || 'HTTP ' + xhr.status));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the upload broke off'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'cancelled'));
    if (o.signal) {
      if (o.signal.aborted) { reject(new ApiError(0, 'aborted', 'cancelled')); return; }
      o.signal.addEventListener('abort', () => xhr.abort());
    }
    xhr.send(file);
  });
}

// Starts the server (ksu: `droidspaces daemon`); resolves to true when it runs.
export async function startServer() {
  if (transportKind() !== 'ksu') return true; // this page is served by it
  const r = await ksuExec(BIN() + ' daemon');
  if (r.errno !== 0) {
    const msg = (r.stderr || r.stdout || '').trim();
    // "already running" is fine
    if (!(await ksuServer(true))) throw new ApiError(500, 'system', msg || 'droidspaces daemon: exit status ' + r.errno);
    return true;
  }
  for (let i = 0; i < 20; i++) {
    if (await ksuServer(true)) return true;
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new ApiError(500, 'system', 'the server did not come up');
}
