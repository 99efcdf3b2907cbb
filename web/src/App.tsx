import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiError, makeApi, type Api, type ResultOf } from './graphql';
import { DOMAINS, ME, SETTINGS, SIGN_OUT } from './queries';
import { forgetToken, storedToken, saveToken } from './token';
import { forgetSsoError, ssoErrorMessage } from './ssoError';
import { SignIn } from './sections/SignIn';
import { MemberPage } from './sections/MemberPage';
import { DomainsSection } from './sections/DomainsSection';
import { SamlSection } from './sections/SamlSection';
import { ScimSection } from './sections/ScimSection';
import { ApiKeysSection } from './sections/ApiKeysSection';
import { AdminTokensSection } from './sections/AdminTokensSection';
import { MappingSection } from './sections/MappingSection';
import { MembersSection } from './sections/MembersSection';
import { ActivitySection } from './sections/ActivitySection';
import { ErrorNote, Loading } from './ui';

export type Settings = ResultOf<typeof SETTINGS>['workspace'];

export type Me = ResultOf<typeof ME>['me'];

// Who this browser is: an admin token (kept in localStorage), else the SSO session cookie, which
// the page can't read (HttpOnly) but asks about with `me`.
type Who = { kind: 'checking' } | { kind: 'signed-out' } | { kind: 'token'; token: string } | { kind: 'session'; me: Me };

export function App() {
  const [who, setWho] = useState<Who>(() => {
    const token = storedToken();
    return token ? { kind: 'token', token } : { kind: 'checking' };
  });
  // `?ssoError=<code>` is a code mapped to fixed wording: never the address's own text.
  const [signInError, setSignInError] = useState<string | null>(() => ssoErrorMessage(window.location.search));
  useEffect(forgetSsoError, []);

  useEffect(() => {
    if (who.kind !== 'checking') return;
    let live = true;
    makeApi(null)
      .request(ME)
      .then((data) => live && setWho({ kind: 'session', me: data.me }))
      .catch((e) => {
        if (!live) return;
        if (!(e instanceof ApiError && e.code === 'UNAUTHENTICATED')) setSignInError(e instanceof Error ? e.message : String(e));
        setWho({ kind: 'signed-out' });
      });
    return () => {
      live = false;
    };
  }, [who.kind]);

  const signOut = useCallback(
    async (reason?: string) => {
      if (who.kind === 'session') {
        try {
          await makeApi(null).request(SIGN_OUT);
        } catch {
          // The session is gone already (ended elsewhere): signed out either way.
        }
      }
      forgetToken();
      setSignInError(reason ?? null);
      setWho({ kind: 'signed-out' });
    },
    [who.kind],
  );

  if (who.kind === 'checking') return <Loading what="your sign-in" />;
  if (who.kind === 'signed-out') {
    return (
      <SignIn
        error={signInError}
        onSignIn={(t) => {
          saveToken(t);
          setSignInError(null);
          setWho({ kind: 'token', token: t });
        }}
      />
    );
  }
  if (who.kind === 'session' && who.me.role !== 'ADMIN') return <MemberPage me={who.me} onSignOut={() => void signOut()} />;
  const token = who.kind === 'token' ? who.token : null;
  // A session whose member is no longer an admin (a group push, a mapping edit) asks `me` again
  // and lands on the member page instead of being signed out.
  return (
    <SignedIn
      key={token ?? 'session'}
      token={token}
      onSignOut={(reason) => void signOut(reason)}
      onForbidden={token ? undefined : () => setWho({ kind: 'checking' })}
    />
  );
}

function SignedIn({
  token,
  onSignOut,
  onForbidden,
}: {
  token: string | null;
  onSignOut: (reason?: string) => void;
  onForbidden?: () => void;
}) {
  const api: Api = useMemo(() => makeApi(token), [token]);
  useEffect(() => () => {
    api.close();
  }, [api]);
  const [settings, setSettings] = useState<Settings | null>(null);
  const [error, setError] = useState<unknown>(null);
  // Bumped after a change that others sections show (members' roles, activity).
  const [version, setVersion] = useState(0);
  // Bumped by live activity: SCIM changes can move members' roles.
  const [liveTick, setLiveTick] = useState(0);
  const onLive = useCallback(() => setLiveTick((t) => t + 1), []);

  // Access that ended (sign-in gone, no longer an admin) ends the page; true when it did.
  const accessEnded = useCallback(
    (e: unknown) => {
      if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') {
        onSignOut(token ? 'That sign-in token is not valid (any more). Sign in again.' : 'Your session has ended. Sign in again.');
        return true;
      }
      if (e instanceof ApiError && e.code === 'FORBIDDEN') {
        if (onForbidden) onForbidden();
        else onSignOut(e.message);
        return true;
      }
      return false;
    },
    [onSignOut, onForbidden, token],
  );

  const reload = useCallback(async () => {
    try {
      const data = await api.request(SETTINGS);
      setSettings(data.workspace);
      setError(null);
    } catch (e) {
      if (!accessEnded(e)) setError(e);
    }
  }, [api, accessEnded]);

  // The claimed domains alone, for the Domains section's polling while a claim is pending (the
  // SAML section reads the same list). Other failures are the poll's to retry.
  const reloadDomains = useCallback(async () => {
    try {
      const data = await api.request(DOMAINS);
      setSettings((s) => (s ? { ...s, domains: data.workspace.domains } : s));
    } catch (e) {
      if (!accessEnded(e)) throw e;
    }
  }, [api, accessEnded]);

  useEffect(() => {
    void reload();
  }, [reload]);

  const changed = useCallback(async () => {
    await reload();
    setVersion((v) => v + 1);
  }, [reload]);

  return (
    <div className="layout">
      <header className="topbar">
        <div>
          <p className="eyebrow">Settings</p>
          <h1>SAML &amp; SCIM</h1>
        </div>
        <div className="who">
          {settings && (
            <span>
              Workspace <strong>{settings.name}</strong> <span className="muted">({settings.slug})</span>
            </span>
          )}
          <button type="button" className="secondary" onClick={() => onSignOut()}>
            Sign out
          </button>
        </div>
      </header>
      <nav className="toc" aria-label="Sections">
        <a href="#domains">Domains</a>
        <a href="#saml">SAML</a>
        <a href="#scim">SCIM</a>
        <a href="#keys">API keys</a>
        <a href="#admin-tokens">Admin tokens</a>
        <a href="#mapping">Group → role</a>
        <a href="#members">Members</a>
        <a href="#activity">Activity</a>
      </nav>
      <main>
        <ErrorNote error={error} />
        {!settings && !error && <Loading what="your workspace" />}
        {settings && (
          <>
            <DomainsSection api={api} domains={settings.domains} onChanged={changed} onPoll={reloadDomains} />
            <SamlSection api={api} saml={settings.saml} domains={settings.domains} onChanged={changed} />
            <ScimSection api={api} saml={settings.saml} scim={settings.scim} onChanged={changed} />
            <ApiKeysSection api={api} keys={settings.apiKeys} baseUrl={settings.scim.baseUrl} onChanged={changed} />
            <AdminTokensSection api={api} tokens={settings.adminTokens} onChanged={changed} />
            <MappingSection api={api} saved={settings.groupRoleMappings} groups={settings.groups.nodes} onChanged={changed} />
            <MembersSection api={api} version={version + liveTick} />
            <ActivitySection api={api} version={version} onLive={onLive} onAccessEnded={reload} />
          </>
        )}
      </main>
    </div>
  );
}
