import { useEffect, useId, useState } from 'react';
import { ApiError, type Api } from '../graphql';
import { CHECK_DOMAIN, CLAIM_DOMAIN, REMOVE_DOMAIN } from '../queries';
import type { Settings } from '../App';
import { formatDateTime, fromNow } from '../format';
import { Badge, CopyField, Dialog, ErrorNote, Field, Section } from '../ui';

export type Domain = Settings['domains'][number];

/** How often the list is asked again while a claim is pending. */
export const POLL_MS = 5000;

// The gateway's schedule, for the wording only (the gateway decides).
const PENDING_FOR_HOURS = 72;
const LAPSE_AFTER_DAYS = 7;

/** The e-mail domains the workspace claims, how to prove each, and where proving it stands. */
export function DomainsSection({
  api,
  domains,
  onChanged,
  onPoll,
}: {
  api: Api;
  domains: Domain[];
  /** After a change: the whole page reloads. */
  onChanged: () => Promise<void>;
  /** While a claim is pending: the list alone, asked again every `POLL_MS`. */
  onPoll: () => Promise<void>;
}) {
  const [input, setInput] = useState('');
  const [addError, setAddError] = useState<string | undefined>();
  const [adding, setAdding] = useState(false);
  const [notice, setNotice] = useState('');
  const [removing, setRemoving] = useState<Domain | null>(null);
  const pending = domains.some((d) => d.status === 'PENDING');
  const verified = domains.filter((d) => d.status === 'VERIFIED');

  // While a claim waits for its record, ask again so it turns verified on screen. One request at
  // a time: the next is scheduled when the last has answered. Stops when none is pending.
  useEffect(() => {
    if (!pending) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const tick = async () => {
      try {
        await onPoll();
      } catch {
        // A failed poll is tried again at the next tick.
      }
      if (!stopped) timer = setTimeout(tick, POLL_MS);
    };
    timer = setTimeout(tick, POLL_MS);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [pending, onPoll]);

  async function add(e: React.FormEvent) {
    e.preventDefault();
    const domain = input.trim();
    if (!domain) {
      setAddError("Enter the domain of your people's e-mail addresses, e.g. acme.com.");
      return;
    }
    setAdding(true);
    setAddError(undefined);
    setNotice('');
    try {
      const data = await api.request(CLAIM_DOMAIN, { domain });
      setInput('');
      await onChanged();
      setNotice(
        data.claimDomain.status === 'VERIFIED'
          ? `${data.claimDomain.domain} is already verified for this workspace.`
          : `Added ${data.claimDomain.domain}: publish its TXT record, shown below.`,
      );
    } catch (err) {
      setAddError(err instanceof Error ? err.message : String(err));
    } finally {
      setAdding(false);
    }
  }

  async function remove(claim: Domain) {
    setRemoving(null);
    setNotice('');
    try {
      await api.request(REMOVE_DOMAIN, { domain: claim.asciiDomain });
      await onChanged();
      setNotice(`Removed ${claim.domain}.`);
    } catch (err) {
      setNotice(`${claim.domain} was not removed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  const onlyVerified = removing?.status === 'VERIFIED' && verified.length === 1;

  return (
    <Section
      id="domains"
      title="Domains"
      status={verified.length ? <Badge tone="ok">{verified.length} verified</Badge> : <Badge tone="warn">None verified</Badge>}
    >
      <p className="muted">
        Your identity provider signs in only people whose e-mail address is in one of the workspace's verified domains. Add each domain your people's
        addresses use, and prove it is yours with a DNS TXT record.
      </p>
      <form className="inline-form two" onSubmit={add} noValidate>
        <Field label="Domain" name="domain" value={input} onChange={setInput} error={addError} placeholder="acme.com" />
        <button type="submit" disabled={adding}>
          {adding ? 'Adding…' : 'Add domain'}
        </button>
      </form>
      <p className="success-note" role="status" aria-live="polite">
        {notice}
      </p>
      {domains.length === 0 ? (
        <p className="muted">No domains yet: SAML signs in nobody until one is verified.</p>
      ) : (
        <ul className="domains">
          {domains.map((d) => (
            <Claim key={d.asciiDomain} api={api} claim={d} onChanged={onChanged} onRemove={() => setRemoving(d)} />
          ))}
        </ul>
      )}
      <p className="hint">
        Publish the TXT record at your DNS host; we check every 10 minutes, and a claim fails if the record is not seen within {PENDING_FOR_HOURS} hours
        (<em>Check now</em> can still verify it then). Keep the record published: verified domains are checked again daily and lapse once the record has been
        gone for {LAPSE_AFTER_DAYS} days. When DNS itself has trouble nothing changes: the reason is shown.
      </p>
      <Dialog open={!!removing} title={`Remove ${removing?.domain ?? ''}?`} onClose={() => setRemoving(null)}>
        {removing?.status === 'VERIFIED' ? (
          <p className="warning">
            {removing.domain} is verified: removing it stops your identity provider signing in people with @{removing.domain} addresses at once.
            {onlyVerified && ' It is the only verified domain, so SAML will sign in nobody until another is verified.'}
          </p>
        ) : (
          <p>The claim and its TXT record value are forgotten; adding the domain again gives a new value to publish.</p>
        )}
        <div className="actions">
          <button type="button" className="danger" onClick={() => removing && void remove(removing)}>
            Remove domain
          </button>
          <button type="button" className="secondary" onClick={() => setRemoving(null)}>
            Cancel
          </button>
        </div>
      </Dialog>
    </Section>
  );
}

function statusBadge(d: Domain) {
  switch (d.status) {
    case 'VERIFIED':
      return <Badge tone="ok">{d.verifiedBy === 'OPERATOR' ? 'Verified by the operator' : 'Verified'}</Badge>;
    case 'PENDING':
      return <Badge tone="warn">Pending</Badge>;
    case 'FAILED':
      return <Badge tone="bad">Failed</Badge>;
    case 'LAPSED':
      return <Badge tone="bad">Lapsed</Badge>;
  }
}

/** What the status means for this claim, in a sentence. */
function statusText(d: Domain): string {
  switch (d.status) {
    case 'VERIFIED':
      if (d.verifiedBy === 'OPERATOR') return `Since ${formatDateTime(d.verifiedAt)}: the operator vouched for it, no DNS record is needed.`;
      if (d.missingSince) {
        const lapses = d.deadline ? ` ${formatDateTime(d.deadline)}` : '';
        return `The TXT record has been missing since ${formatDateTime(d.missingSince)}: the domain lapses${lapses} unless it is back.`;
      }
      return `Since ${formatDateTime(d.verifiedAt)}. Keep the record published: it is checked again daily.`;
    case 'PENDING': {
      const until = d.deadline ? ` until ${formatDateTime(d.deadline)}` : '';
      return `Waiting for the TXT record: checked every 10 minutes${until}.`;
    }
    case 'FAILED':
      return `The record was not seen within ${PENDING_FOR_HOURS} hours. Publish it, then press Check now.`;
    case 'LAPSED':
      return `The record was gone for ${LAPSE_AFTER_DAYS} days: people of this domain can no longer sign in. Publish it again; it is checked daily, or press Check now.`;
  }
}

function When({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={formatDateTime(iso)}>
      {fromNow(iso)}
    </time>
  );
}

function Claim({ api, claim: d, onChanged, onRemove }: { api: Api; claim: Domain; onChanged: () => Promise<void>; onRemove: () => void }) {
  const id = useId();
  const [checking, setChecking] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const byOperator = d.status === 'VERIFIED' && d.verifiedBy === 'OPERATOR';
  // The record is what proves the claim: shown until it is seen, and kept in view after, since
  // it must stay published. A domain the operator vouched for needs none.
  const showRecord = !byOperator;

  async function check() {
    setChecking(true);
    setError(null);
    try {
      await api.request(CHECK_DOMAIN, { domain: d.asciiDomain });
      await onChanged();
    } catch (err) {
      setError(err instanceof ApiError && err.code === 'RATE_LIMITED' ? new Error(`Not checked: ${err.message}`) : err);
      // Taken: the lookup was made and stored (its time, the reason): show it.
      if (err instanceof ApiError && err.code === 'DOMAIN_TAKEN') await onChanged();
    } finally {
      setChecking(false);
    }
  }

  const due = d.nextCheckAt && new Date(d.nextCheckAt).getTime() <= Date.now();

  return (
    <li className="domain" aria-labelledby={`${id}-name`} data-status={d.status}>
      <div className="domain-head">
        <h3 id={`${id}-name`}>{d.domain}</h3>
        {d.asciiDomain !== d.domain && <span className="muted small">({d.asciiDomain})</span>}
      </div>
      <p role="status" aria-live="polite" className="domain-status">
        {statusBadge(d)} {statusText(d)}
      </p>
      {showRecord && (
        <div className="record">
          <p className="hint">
            {d.status === 'VERIFIED' ? 'The TXT record that verified it (keep it published):' : 'Publish this TXT record at your DNS host:'}
          </p>
          <CopyField label="TXT record name" value={d.txtName} copyWhat={`TXT record name for ${d.domain}`} />
          <CopyField label="TXT record value" value={d.txtValue} copyWhat={`TXT record value for ${d.domain}`} />
          {d.txtName.endsWith(`.${d.asciiDomain}`) && (
            <p className="hint">
              Some DNS hosts add the domain to the name themselves: there, enter only <code>{d.txtName.slice(0, -d.asciiDomain.length - 1)}</code>.
            </p>
          )}
        </div>
      )}
      {!byOperator && (
        <dl className="facts">
          <dt>Last check</dt>
          <dd>
            {d.lastCheckedAt ? <When iso={d.lastCheckedAt} /> : 'Not checked yet'}
            {d.lastError && (
              <>
                {': '}
                <span className="reason">{d.lastError}</span>
              </>
            )}
          </dd>
          <dt>Next check</dt>
          <dd>{d.nextCheckAt ? due ? 'any moment now' : <When iso={d.nextCheckAt} /> : 'only when you press Check now'}</dd>
        </dl>
      )}
      <ErrorNote error={error} />
      <div className="actions">
        {!byOperator && (
          <button type="button" className="secondary small" onClick={() => void check()} disabled={checking} aria-busy={checking} aria-label={`Check now for ${d.domain}`}>
            {checking ? 'Checking…' : 'Check now'}
          </button>
        )}
        <button type="button" className="danger small" onClick={onRemove} aria-label={`Remove ${d.domain}`}>
          Remove
        </button>
      </div>
    </li>
  );
}
