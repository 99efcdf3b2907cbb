import { useEffect, useState } from 'react';
import { forgetToken, storedToken } from './token';

// Placeholder until the settings page is built: shows who is signed in and where the API is.
type Workspace = { slug: string; name: string; scim: { enabled: boolean; baseUrl: string } };

export function App() {
  const [token] = useState(storedToken);
  const [workspace, setWorkspace] = useState<Workspace | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!token) return;
    fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ workspace { slug name scim { enabled baseUrl } } }' }),
    })
      .then((r) => r.json())
      .then((body) => {
        if (body.errors?.length) setError(body.errors[0].message);
        else setWorkspace(body.data.workspace);
      })
      .catch(() => setError('The gateway did not answer.'));
  }, [token]);

  return (
    <main style={{ fontFamily: 'system-ui, sans-serif', maxWidth: 720, margin: '3rem auto', padding: '0 1rem' }}>
      <h1>SAML &amp; SCIM settings</h1>
      {!token && <p>Open the sign-in link the gateway printed at its first start, or create one with <code>scim-gateway admin-token</code>.</p>}
      {error && <p role="alert">{error}</p>}
      {workspace && (
        <>
          <p>
            Signed in to <strong>{workspace.name}</strong> ({workspace.slug}). SCIM is{' '}
            {workspace.scim.enabled ? 'enabled' : 'disabled'}; base URL <code>{workspace.scim.baseUrl}</code>.
          </p>
          <button
            type="button"
            onClick={() => {
              forgetToken();
              window.location.reload();
            }}
          >
            Sign out
          </button>
        </>
      )}
      <p>
        The full settings page is coming. Meanwhile, the <a href="/graphql/playground">GraphQL playground</a> has
        every setting.
      </p>
    </main>
  );
}
