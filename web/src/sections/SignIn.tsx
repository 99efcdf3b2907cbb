import { useState } from 'react';
import { Field } from '../ui';

export function SignIn({ error, onSignIn }: { error: string | null; onSignIn: (token: string) => void }) {
  const [who, setWho] = useState('');
  const [whoProblem, setWhoProblem] = useState<string | undefined>();
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  return (
    <main className="signin">
      <div className="card">
        <h1>Sign in</h1>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (!who.trim()) {
              setWhoProblem("Enter your workspace's name or your work e-mail.");
              return;
            }
            // A full navigation: the gateway sends the browser on to the workspace's IdP.
            window.location.assign(`/api/sso?who=${encodeURIComponent(who.trim())}`);
          }}
        >
          <h2>Single sign-on</h2>
          <Field label="Workspace or work e-mail" value={who} onChange={setWho} error={whoProblem} placeholder="acme or you@acme.com" />
          <button type="submit">Sign in with SSO</button>
        </form>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (!token.trim()) {
              setProblem('Paste an admin token.');
              return;
            }
            onSignIn(token);
          }}
        >
          <h2>Admin token</h2>
          <p className="muted">
            For set-up and break-glass: open the sign-in link the gateway printed at its first start, or paste a token made with{' '}
            <code>scim-gateway admin-token --workspace &lt;slug&gt; --email &lt;you&gt;</code>.
          </p>
          <Field label="Admin token" type="password" value={token} onChange={setToken} error={problem} placeholder="sgat_…" />
          <button type="submit" className="secondary">
            Sign in with token
          </button>
        </form>
      </div>
    </main>
  );
}
