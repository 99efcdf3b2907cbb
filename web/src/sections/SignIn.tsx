import { useState } from 'react';
import { Field } from '../ui';

export function SignIn({ error, onSignIn }: { error: string | null; onSignIn: (token: string) => void }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  return (
    <main className="signin">
      <form
        className="card"
        onSubmit={(e) => {
          e.preventDefault();
          if (!token.trim()) {
            setProblem('Paste an admin token.');
            return;
          }
          onSignIn(token);
        }}
      >
        <h1>Sign in to SAML &amp; SCIM settings</h1>
        <p className="muted">
          Open the sign-in link the gateway printed at its first start, or paste an admin token made with{' '}
          <code>scim-gateway admin-token --workspace &lt;slug&gt; --email &lt;you&gt;</code>.
        </p>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <Field label="Admin token" type="password" value={token} onChange={setToken} error={problem} placeholder="sgat_…" />
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
