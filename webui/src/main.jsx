import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { initToken, getToken, transportKind } from './api.js';
import Containers from './screens/Containers.jsx';
import Container from './screens/Container.jsx';
import NewContainer from './screens/NewContainer.jsx';
import System from './screens/System.jsx';

// The token comes first: it is read from "#token=..." and removed before routing.
initToken();

export function parseRoute(hash) {
  const h = (hash || '').replace(/^#/, '');
  const m = h.match(/^\/c\/([^/?]+)/);
  if (m) {
    let name = m[1];
    try { name = decodeURIComponent(name); } catch (e) { /* keep it */ }
    return { screen: 'container', name };
  }
  if (h.startsWith('/new')) return { screen: 'new' };
  if (h.startsWith('/system')) return { screen: 'system' };
  return { screen: 'containers' };
}


function NavLink({ href, id, current, children }) {
  return (
    <a href={href} data-testid={id} class={current ? 'nav-link current' : 'nav-link'}
       aria-current={current ? 'page' : undefined}>{children}</a>
  );
}

function App() {
  const [route, setRoute] = useState(parseRoute(location.hash));
  const [banner, setBanner] = useState(null);
  useEffect(() => {
    const on = () => { initToken(); setRoute(parseRoute(location.hash)); setBanner(null); };
    const err = (ev) => setBanner(ev.detail || null);
    window.addEventListener('hashchange', on);
    window.addEventListener('ds-error', err);
    return () => { window.removeEventListener('hashchange', on); window.removeEventListener('ds-error', err); };
  }, []);
  const noToken = transportKind() === 'http' && !getToken();
  let screen;
  if (route.screen === 'container') screen = <Container key={route.name} name={route.name} />;
  else if (route.screen === 'new') screen = <NewContainer />;
  else if (route.screen === 'system') screen = <System />;
  else screen = <Containers />;
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/">Droidspaces</a>
        <nav aria-label="Main">
          <NavLink href="#/" id="nav-containers" current={route.screen === 'containers' || route.screen === 'container'}>Containers</NavLink>
          <NavLink href="#/new" id="nav-new" current={route.screen === 'new'}>New</NavLink>
          <NavLink href="#/system" id="nav-system" current={route.screen === 'system'}>System</NavLink>
        </nav>
      </header>
      {noToken && (
        <div class="banner warn" role="alert">
          No access token. Open the dashboard with the address that <code>droidspaces serve</code> printed
          (it ends in <code>#token=…</code>).
        </div>
      )}
      {banner && (
        <div class="banner error" role="alert">
          <span>{banner}</span>
          <button type="button" class="link" onClick={() => setBanner(null)} aria-label="Dismiss">×</button>
        </div>
      )}
      <main>{screen}</main>
    </div>
  );
}

render(<App />, document.getElementById('app'));
