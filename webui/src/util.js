// Shared helpers for every screen.

export function formatBytes(n) {
  if (n === null || n === undefined || n === '' || isNaN(Number(n))) return '–';
  let v = Number(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? String(Math.round(v)) : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[i];
}

export function formatUptime(seconds) {
  if (seconds === null || seconds === undefined || isNaN(Number(seconds))) return '–';
  let s = Math.max(0, Math.floor(Number(seconds)));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return d + 'd ' + h + 'h';
  if (h) return h + 'h ' + m + 'm';
  if (m) return m + 'm ' + s + 's';
  return s + 's';
}

export function formatPercent(p) {
  if (p === null || p === undefined || isNaN(Number(p))) return '–';
  const v = Number(p);
  return (v < 10 ? v.toFixed(1) : v.toFixed(0)) + ' %';
}

export function debounce(fn, ms) {
  let t = null;
  const d = function (...args) {
    if (t) clearTimeout(t);
    t = setTimeout(() => { t = null; fn.apply(this, args); }, ms);
  };
  d.cancel = () => { if (t) clearTimeout(t); t = null; };
  return d;
}

// A readable message for an ApiError or any thrown value.
export function errorText(e) {
  if (!e) return '';
  if (e.detail) return e.detail + (e.error ? ' (' + e.error + ')' : '');
  return e.message || String(e);
}

// The app-wide error banner (role="alert" under the header): showError(message) shows it,
// showError(null) hides it. It also hides when the route changes.
export function showError(msg) {
  try { window.dispatchEvent(new CustomEvent('ds-error', { detail: msg || null })); } catch (e) { /* old engine */ }
}
