import { useState } from 'react';
import type { Api } from '../graphql';
import { REVOKE_ADMIN_TOKEN } from '../queries';
import type { Settings } from '../App';
import { expiry, formatDate, formatDateTime } from '../format';
import { Badge, Dialog, ErrorNote, Section } from '../ui';

type Token = Settings['adminTokens'][number];

/** Days before expiry when a token is flagged (as the API's `expiresSoon`). */
const WARN_DAYS = 7;

export function AdminTokensSection({ api, tokens, onChanged }: { api: Api; tokens: Token[]; onChanged: () => Promise<void> }) {
  const [error, setError] = useState<unknown>(null);
  const [revoking, setRevoking] = useState<Token | null>(null);

  async function revoke(token: Token) {
    setError(null);
    try {
      await api.request(REVOKE_ADMIN_TOKEN, { id: token.id });
      setRevoking(null);
      // Revoking this browser's own token signs it out: the reload then answers UNAUTHENTICATED.
      await onChanged();
    } catch (err) {
      setRevoking(null);
      setError(err);
    }
  }

  const live = tokens.filter((t) => t.status === 'ACTIVE');

  return (
    <Section id="admin-tokens" title="Admin tokens" status={<Badge tone={live.length ? 'ok' : 'muted'}>{live.length} active</Badge>}>
      <p className="muted">
        Tokens made with <code>scim-gateway admin-token</code> for set-up and break-glass. Each acts as the person it was made for. Revoke the ones nobody needs.
      </p>
      <ErrorNote error={error} />
      {tokens.length === 0 ? (
        <p className="muted">No admin tokens.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Admin tokens</caption>
            <thead>
              <tr>
                <th scope="col">Person</th>
                <th scope="col">Token</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => {
                const exp = expiry(t.expiresAt, WARN_DAYS);
                return (
                  <tr key={t.id} className={t.status !== 'ACTIVE' ? 'dim' : undefined}>
                    <td>
                      {t.name ? (
                        <>
                          {t.name} <span className="muted">{t.email}</span>
                        </>
                      ) : (
                        t.email
                      )}{' '}
                      {t.current && <Badge tone="muted">This browser</Badge>}
                    </td>
                    <td>
                      <code>{t.prefix}…</code>
                    </td>
                    <td>{formatDate(t.createdAt)}</td>
                    <td>{t.lastUsedAt ? formatDateTime(t.lastUsedAt) : 'Never'}</td>
                    <td>
                      {exp.text} {t.status === 'ACTIVE' && t.expiresSoon && <Badge tone="warn">Expires soon</Badge>}
                    </td>
                    <td>{t.status === 'ACTIVE' ? <Badge tone="ok">Active</Badge> : t.status === 'REVOKED' ? <Badge tone="bad">Revoked {formatDate(t.revokedAt)}</Badge> : <Badge tone="bad">Expired</Badge>}</td>
                    <td>
                      {t.status === 'ACTIVE' && (
                        <button type="button" className="danger small" onClick={() => setRevoking(t)} aria-label={`Revoke token ${t.prefix} of ${t.email}`}>
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <Dialog open={!!revoking} title={`Revoke ${revoking?.email ?? ''}'s token?`} onClose={() => setRevoking(null)}>
        <p>
          Requests with this token ({revoking?.prefix}…) will be refused at once, and its live connections closed. This can't be undone: make a new one with{' '}
          <code>admin-token</code> if needed.
        </p>
        {revoking?.current && (
          <p className="warning" role="alert">
            This browser is signed in with this token: you will be signed out.
          </p>
        )}
        <div className="actions">
          <button type="button" className="danger" onClick={() => revoking && void revoke(revoking)}>
            Revoke token
          </button>
          <button type="button" className="secondary" onClick={() => setRevoking(null)}>
            Cancel
          </button>
        </div>
      </Dialog>
    </Section>
  );
}
