import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiError, makeApi, type Api, type ResultOf } from './graphql';
import { SETTINGS } from './queries';
import { forgetToken, storedToken, saveToken } from './token';
import { SignIn } from './sections/SignIn';
import { SamlSection } from './sections/SamlSection';
import { ScimSection } from './sections/ScimSection';
import { ApiKeysSection } from './sections/ApiKeysSection';
import { MappingSection } from './sections/MappingSection';
import { MembersSection } from './sections/MembersSection';
import { ActivitySection } from './sections/ActivitySection';
import { ErrorNote, Loading } from './ui';

export type Settings = ResultOf<typeof SETTINGS>['workspace'];

export function App() {
  const [token, setToken] = useState<string | null>(storedToken);
  const [signInError, setSignInError] = useState<string | null>(null);
  if (!token) {
    return (
      <SignIn
        error={signInError}
        onSignIn={(t) => {
          saveToken(t);
          setSignInError(null);
          setToken(t);
        }}
      />
    );
  }
  return (
    <SignedIn
      key={token}
      token={token}
      onSignOut={(reason) => {
        forgetToken();
        setSignInError(reason ?? null);
        setToken(null);
      }}
    />
  );
}

function SignedIn({ token, onSignOut }: { token: string; onSignOut: (reason?: string) => void }) {
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

  const reload = useCallback(async () => {
    try {
      const data = await api.request(SETTINGS);
      setSettings(data.workspace);
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') onSignOut('That sign-in token is not valid (any more). Sign in again.');
      else if (e instanceof ApiError && e.code === 'FORBIDDEN') onSignOut(e.message);
      else setError(e);
    }
  }, [api, onSignOut]);

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
        <a href="#saml">SAML</a>
        <a href="#scim">SCIM</a>
        <a href="#keys">API keys</a>
        <a href="#mapping">Group → role</a>
        <a href="#members">Members</a>
        <a href="#activity">Activity</a>
      </nav>
      <main>
        <ErrorNote error={error} />
        {!settings && !error && <Loading what="your workspace" />}
        {settings && (
          <>
            <SamlSection api={api} saml={settings.saml} onChanged={changed} />
            <ScimSection api={api} saml={settings.saml} scim={settings.scim} onChanged={changed} />
            <ApiKeysSection api={api} keys={settings.apiKeys} baseUrl={settings.scim.baseUrl} onChanged={changed} />
            <MappingSection api={api} saved={settings.groupRoleMappings} groups={settings.groups.nodes} onChanged={changed} />
            <MembersSection api={api} version={version + liveTick} />
            <ActivitySection api={api} version={version} onLive={onLive} />
          </>
        )}
      </main>
    </div>
  );
}
