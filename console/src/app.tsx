// The console shell: session, navigation (hash routes under /console/), pages.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, describeError, get, onUnauthenticated, post, setCsrfToken } from './api.js';
import { Incidents } from './pages/incidents.js';
import { Ledger } from './pages/ledger.js';
import { Overview } from './pages/overview.js';
import { Policies } from './pages/policies.js';
import { Runtimes } from './pages/runtimes.js';
import { PAGES, parseRoute } from './route.js';
import type { Session } from './types.js';

function useRoute() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return parseRoute(hash);
}

type SessionState =
  | { state: 'loading' }
  | { state: 'signed-out' }
  | { state: 'error'; error: unknown }
  | { state: 'in'; session: Session };

export function App() {
  const [session, setSession] = useState<SessionState>({ state: 'loading' });
  const route = useRoute();

  useEffect(() => {
    get<Session>('/console/api/session').then(
      (s) => {
        setCsrfToken(s.csrfToken);
        setSession({ state: 'in', session: s });
      },
      (error: unknown) =>
        setSession(
          error instanceof ApiError && error.status === 401
            ? { state: 'signed-out' }
            : { state: 'error', error },
        ),
    );
    return onUnauthenticated(() => setSession({ state: 'signed-out' }));
  }, []);

  useEffect(() => {
    const page = PAGES.find((p) => p.path === route.page);
    document.title = `${page?.label ?? 'Console'} · ztgate`;
    document.getElementById('main')?.focus();
  }, [route.page]);

  const signOut = async () => {
    try {
      await post('/console/logout');
    } finally {
      setCsrfToken('');
      setSession({ state: 'signed-out' });
    }
  };

  return (
    <>
      <a
        class="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">ztgate security console</span>
        {session.state === 'in' && (
          <nav aria-label="Main">
            <ul>
              {PAGES.map((p) => (
                <li key={p.id}>
                  <a
                    href={`#/${p.path}`}
                    data-testid={`nav-${p.id}`}
                    aria-current={route.page === p.path ? 'page' : undefined}
                  >
                    {p.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        )}
        <div class="user">
          {session.state === 'in' ? (
            <>
              <span>{session.session.user.name ?? session.session.user.id}</span>{' '}
              <button type="button" data-testid="signout" onClick={() => void signOut()}>
                Sign out
              </button>
            </>
          ) : session.state === 'signed-out' ? (
            <a class="button" href="/console/login" data-testid="signin">
              Sign in
            </a>
          ) : null}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {session.state === 'loading' && <p>Loading…</p>}
        {session.state === 'error' && (
          <p role="alert">The console could not start: {describeError(session.error)}</p>
        )}
        {session.state === 'signed-out' && (
          <>
            <h1>Sign in</h1>
            <p>Sign in with your organisation's identity provider to use the console.</p>
            <p>
              <a class="button" href="/console/login">
                Sign in
              </a>
            </p>
          </>
        )}
        {session.state === 'in' && <Page page={route.page} rest={route.rest} />}
      </main>
    </>
  );
}

function Page({ page, rest }: { readonly page: string; readonly rest: string | undefined }) {
  switch (page) {
    case 'ledger':
      return <Ledger />;
    case 'policies':
      return <Policies />;
    case 'incidents':
      return <Incidents selectedId={rest} />;
    case 'runtimes':
      return <Runtimes />;
    default:
      return <Overview />;
  }
}
