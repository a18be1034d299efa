// New container (#/new): install from a tarball path on the device, from an upload, or register
// an existing directory or ext4 image. Every guest/config string is rendered as a text node.
import { useRef, useState } from 'preact/hooks';
import { call, callLive, stream, upload } from '../api.js';
import { formatBytes } from '../util.js';

const SOURCES = [
  ['path', 'Tarball on the device'],
  ['upload', 'Upload a tarball'],
  ['existing', 'Existing directory or image'],
];

function errorText(e) {
  if (!e) return '';
  if (e.detail) return `${e.error || 'error'}: ${e.detail}`;
  if (e.message) return e.message;
  return String(e);
}

export function NewContainer() {
  const [name, setName] = useState('');
  const [kind, setKind] = useState('path');
  const [source, setSource] = useState('');
  const [file, setFile] = useState(null);
  const [storage, setStorage] = useState('dir'); // "dir" | "image"
  const [imageSize, setImageSize] = useState('4G');
  const [existing, setExisting] = useState('');
  const [existingKind, setExistingKind] = useState('rootfs'); // "rootfs" | "rootfs-img"
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [step, setStep] = useState('');
  const [warnings, setWarnings] = useState([]);
  const [prog, setProg] = useState(null); // {bytes, total, rate, phase}
  const [done, setDone] = useState(null);
  const job = useRef(null);
  const ctrl = useRef(null);
  const last = useRef(null);
  const ended = useRef(false);

  function onProgress(bytes, total, phase) {
    const now = Date.now();
    const prev = last.current;
    let rate = prog ? prog.rate : 0;
    if (prev && prev.phase === phase && now > prev.t) {
      const r = ((bytes - prev.bytes) * 1000) / (now - prev.t);
      if (r >= 0) rate = r;
    }
    last.current = { bytes, t: now, phase };
    setProg({ bytes, total, rate, phase });
  }

  function onEvent(type, data) {
    data = data || {};
    if (type === 'job') job.current = data.id;
    else if (type === 'step') setStep(data.message || data.step || '');
    else if (type === 'progress') onProgress(data.bytes || 0, data.total || 0, 'install');
    else if (type === 'warning') setWarnings((w) => w.concat(String(data.message || '')));
    else if (type === 'done') { ended.current = true; setDone(data); }
    else if (type === 'error') {
      ended.current = true;
      const kindOf = data.error && typeof data.error === 'object' ? data.error.kind : data.error;
      setError(kindOf ? `${kindOf}: ${data.message || ''}` : String(data.message || 'install failed'));
    }
  }

  async function submit(e) {
    e.preventDefault();
    setError('');
    setDone(null);
    setStep('');
    setWarnings([]);
    setProg(null);
    last.current = null;
    job.current = null;
    ended.current = false;
    const n = name.trim();
    if (!n) {
      setError('A name is required.');
      return;
    }
    const ac = typeof AbortController !== 'undefined' ? new AbortController() : null;
    ctrl.current = ac;
    setBusy(true);
    try {
      if (kind === 'existing') {
        if (!existing.trim()) throw new Error('A directory or image path is required.');
        const options = {};
        options[existingKind] = existing.trim();
        const cfg = await call('POST', '/containers', { name: n, options });
        setDone({ name: (cfg && cfg.name) || n });
      } else if (kind === 'path') {
        if (!source.trim()) throw new Error('A tarball path is required.');
        const body = { name: n, source: source.trim() };
        if (storage === 'image') body.image_size = imageSize.trim();
        try {
          await stream('/install', { method: 'POST', body, onEvent, signal: ac && ac.signal });
        } catch (err) {
          if (err && err.status === 0 && err.error === 'no_server') {
            // KernelSU without a server: the exec transport installs in one call.
            setStep('Installing (no live progress without the server)…');
            const ev = await call('POST', '/install', body);
            onEvent('done', ev);
          } else throw err;
        }
      } else {
        if (!file) throw new Error('Choose a tarball to upload.');
        const query = { name: n, filename: file.name };
        if (storage === 'image') query.image_size = imageSize.trim();
        setStep('Uploading…');
        await upload(file, query, {
          onUploadProgress: (a, b) => {
            const loaded = a && typeof a === 'object' ? a.loaded : a;
            const total = a && typeof a === 'object' ? a.total : b;
            onProgress(loaded || 0, total || file.size || 0, 'upload');
          },
          onEvent,
          signal: ac && ac.signal,
        });
      }
      if (kind !== 'existing' && !ended.current && !(ac && ac.signal.aborted))
        setError('The install ended without a result (the connection closed).');
    } catch (err) {
      if (!(err && (err.name === 'AbortError' || err.error === 'aborted'))) setError(errorText(err));
    } finally {
      setBusy(false);
      ctrl.current = null;
    }
  }

  async function cancel() {
    const id = job.current;
    try {
      if (id) await callLive('DELETE', `/install/${encodeURIComponent(id)}`);
      else if (ctrl.current) ctrl.current.abort();
      setError('Cancelled.');
    } catch (err) {
      setError(errorText(err));
    }
  }

  const pct = prog && prog.total > 0 ? Math.min(100, (prog.bytes * 100) / prog.total) : null;

  return (
    <section class="screen new-container">
      <h1>New container</h1>
      <form onSubmit={submit}>
        <label>
          Name
          <input name="name" value={name} required autocomplete="off" spellcheck={false}
            onInput={(e) => setName(e.currentTarget.value)} disabled={busy} />
        </label>
        <fieldset disabled={busy}>
          <legend>Source</legend>
          {SOURCES.map(([k, label]) => (
            <label class="choice" key={k}>
              <input type="radio" name="kind" value={k} checked={kind === k}
                onChange={() => setKind(k)} />
              {label}
            </label>
          ))}
        </fieldset>
        {kind === 'path' && (
          <label>
            Tarball path on the device
            <input name="source" value={source} placeholder="/sdcard/Download/rootfs.tar.xz"
              autocomplete="off" spellcheck={false} disabled={busy}
              onInput={(e) => setSource(e.currentTarget.value)} />
          </label>
        )}
        {kind === 'upload' && (
          <label>
            Tarball
            <input type="file" data-testid="upload-file" disabled={busy}
              accept=".tar,.gz,.tgz,.xz,.txz,.bz2,.zst,.tar.gz,.tar.xz,application/x-tar,application/gzip"
              onChange={(e) => setFile(e.currentTarget.files && e.currentTarget.files[0])} />
          </label>
        )}
        {kind !== 'existing' && (
          <fieldset disabled={busy}>
            <legend>Storage</legend>
            <label class="choice">
              <input type="radio" name="storage" value="dir" checked={storage === 'dir'}
                onChange={() => setStorage('dir')} />
              Directory
            </label>
            <label class="choice">
              <input type="radio" name="storage" value="image" checked={storage === 'image'}
                onChange={() => setStorage('image')} />
              ext4 image
            </label>
            {storage === 'image' && (
              <label>
                Image size
                <input name="image_size" value={imageSize} placeholder="4G" autocomplete="off"
                  onInput={(e) => setImageSize(e.currentTarget.value)} />
              </label>
            )}
          </fieldset>
        )}
        {kind === 'existing' && (
          <fieldset disabled={busy}>
            <legend>Existing rootfs</legend>
            <label class="choice">
              <input type="radio" name="existing-kind" value="rootfs"
                checked={existingKind === 'rootfs'} onChange={() => setExistingKind('rootfs')} />
              Directory
            </label>
            <label class="choice">
              <input type="radio" name="existing-kind" value="rootfs-img"
                checked={existingKind === 'rootfs-img'}
                onChange={() => setExistingKind('rootfs-img')} />
              ext4 image
            </label>
            <label>
              {existingKind === 'rootfs' ? 'Directory path' : 'Image path'}
              <input name={existingKind} value={existing} autocomplete="off" spellcheck={false}
                onInput={(e) => setExisting(e.currentTarget.value)} />
            </label>
          </fieldset>
        )}
        <div class="actions">
          <button type="submit" class="primary" data-testid="install" disabled={busy}>
            {kind === 'existing' ? 'Create' : 'Install'}
          </button>
          {busy && kind !== 'existing' && (
            <button type="button" data-testid="cancel" onClick={cancel}>Cancel</button>
          )}
        </div>
      </form>
      {(busy || prog || step) && kind !== 'existing' && (
        <div class="install-status" aria-live="polite">
          {step && <p data-testid="step">{step}</p>}
          <progress data-testid="progress" aria-label="Install progress"
            max={prog && prog.total > 0 ? prog.total : 100}
            value={prog ? (prog.total > 0 ? prog.bytes : 0) : 0} />
          {prog && (
            <p data-testid="progress-text">
              {prog.phase === 'upload' ? 'Uploaded ' : 'Extracted '}
              {formatBytes(prog.bytes)}
              {prog.total > 0 ? ` of ${formatBytes(prog.total)}` : ''}
              {pct !== null ? ` (${pct.toFixed(0)}%)` : ''}
              {prog.rate > 0 ? `, ${formatBytes(prog.rate)}/s` : ''}
            </p>
          )}
        </div>
      )}
      {warnings.length > 0 && (
        <ul class="warnings">{warnings.map((w, i) => <li key={i}>{w}</li>)}</ul>
      )}
      {error && <p role="alert" class="error">{error}</p>}
      {done && (
        <p data-testid="done">
          Created {done.name}{done.os ? ` (${done.os})` : ''}.{' '}
          <a href={`#/c/${encodeURIComponent(done.name)}`} data-testid="done-link">Open it</a>
        </p>
      )}
    </section>
  );
}

export default NewContainer;
