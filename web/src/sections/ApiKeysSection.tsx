import { useState } from 'react';
import type { Api } from '../graphql';
import { GENERATE_KEY, REVOKE_KEY } from '../queries';
import type { Settings } from '../App';
import { expiry, formatDate, formatDateTime } from '../format';
import { Badge, CopyField, Dialog, ErrorNote, Field, Section } from '../ui';

type Key = Settings['apiKeys'][number];

const EXPIRIES = [
  { label: '30 days', days: 30 },
  { label: '90 days', days: 90 },
  { label: '180 days', days: 180 },
  { label: '1 year', days: 365 },
  { label: 'Never expires', days: null },
] as const;

export function ApiKeysSection({ api, keys, baseUrl, onChanged }: { api: Api; keys: Key[]; baseUrl: string; onChanged: () => Promise<void> }) {
  const [name, setName] = useState('');
  const [days, setDays] = useState<number | null>(365);
  const [nameError, setNameError] = useState<string | undefined>();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [secret, setSecret] = useState<{ name: string; value: string } | null>(null);
  const [revoking, setRevoking] = useState<Key | null>(null);

  async function generate(e: React.FormEvent) {
    e.preventDefault();
    if (!name.trim()) {
      setNameError('Name the key after where it is used, e.g. "Okta production".');
      return;
    }
    setBusy(true);
    setNameError(undefined);
    setError(null);
    try {
      const data = await api.request(GENERATE_KEY, { name, days });
      setSecret({ name: data.generateApiKey.apiKey.name, value: data.generateApiKey.secret });
      setName('');
      await onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  async function revoke(key: Key) {
    setError(null);
    try {
      await api.request(REVOKE_KEY, { id: key.id });
      setRevoking(null);
      await onChanged();
    } catch (err) {
      setRevoking(null);
      setError(err);
    }
  }

  const live = keys.filter((k) => k.status === 'ACTIVE');

  return (
    <Section id="keys" title="API keys" status={<Badge tone={live.length ? 'ok' : 'muted'}>{live.length} active</Badge>}>
      <p className="muted">The IdP sends a key with every SCIM request. Keep two active while you rotate: add the new key in the IdP, then revoke the old one.</p>
      <form className="inline-form" onSubmit={generate} noValidate>
        <Field label="Key name" value={name} onChange={setName} error={nameError} placeholder="Okta production" />
        <div className="field">
          <label htmlFor="key-expiry">Expires</label>
          <select id="key-expiry" value={days ?? 'never'} onChange={(e) => setDays(e.target.value === 'never' ? null : Number(e.target.value))}>
            {EXPIRIES.map((x) => (
              <option key={x.label} value={x.days ?? 'never'}>
                {x.label}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={busy}>
          {busy ? 'Generating…' : 'Generate key'}
        </button>
      </form>
      <ErrorNote error={error} />
      {keys.length === 0 ? (
        <p className="muted">No keys yet.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
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
              {keys.map((k) => {
                const exp = expiry(k.expiresAt, 14);
                return (
                  <tr key={k.id} className={k.status !== 'ACTIVE' ? 'dim' : undefined}>
                    <td>{k.name}</td>
                    <td>
                      <code>{k.prefix}…</code>
                    </td>
                    <td>{formatDate(k.createdAt)}</td>
                    <td>{k.lastUsedAt ? `${formatDateTime(k.lastUsedAt)}${k.lastUsedClient ? ` by ${k.lastUsedClient}` : ''}` : 'Never'}</td>
                    <td>
                      {exp.text} {k.status === 'ACTIVE' && exp.level === 'warn' && <Badge tone="warn">Expires soon</Badge>}
                    </td>
                    <td>{k.status === 'ACTIVE' ? <Badge tone="ok">Active</Badge> : k.status === 'REVOKED' ? <Badge tone="bad">Revoked {formatDate(k.revokedAt)}</Badge> : <Badge tone="bad">Expired</Badge>}</td>
                    <td>
                      {k.status === 'ACTIVE' && (
                        <button type="button" className="danger small" onClick={() => setRevoking(k)} aria-label={`Revoke ${k.name}`}>
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
      <Dialog open={!!secret} title={`Key "${secret?.name ?? ''}" generated`} onClose={() => setSecret(null)}>
        <p className="warning" role="alert">
          Copy it now: this is the only time it is shown. Only a hash is stored.
        </p>
        <CopyField label="API key" value={secret?.value ?? ''} />
        <CopyField label="SCIM base URL" value={baseUrl} />
        <div className="actions">
          <button type="button" onClick={() => setSecret(null)}>
            I have copied it
          </button>
        </div>
      </Dialog>
      <Dialog open={!!revoking} title={`Revoke "${revoking?.name ?? ''}"?`} onClose={() => setRevoking(null)}>
        <p>The IdP's requests with this key ({revoking?.prefix}…) will be refused at once. This can't be undone.</p>
        <div className="actions">
          <button type="button" className="danger" onClick={() => revoking && void revoke(revoking)}>
            Revoke key
          </button>
          <button type="button" className="secondary" onClick={() => setRevoking(null)}>
            Cancel
          </button>
        </div>
      </Dialog>
    </Section>
  );
}
