import { useEffect, useState } from 'react';
import { ApiError, type Api, type ResultOf } from '../graphql';
import { CONFIGURE_SAML, SAML_TEST_REPORT, SET_ALLOW_IDP_INITIATED, START_SAML_TEST } from '../queries';
import type { Settings } from '../App';
import { expiry } from '../format';
import { Badge, CopyField, ErrorNote, Field, IdpSteps, Section } from '../ui';
import type { Domain } from './DomainsSection';

type Saml = Settings['saml'];
type Mode = 'metadata' | 'fields';

export function SamlSection({ api, saml, domains, onChanged }: { api: Api; saml: Saml; domains: Domain[]; onChanged: () => Promise<void> }) {
  const [editing, setEditing] = useState(!saml.configured);
  const [mode, setMode] = useState<Mode>('metadata');
  const [metadataXml, setMetadataXml] = useState('');
  const [idpEntityId, setIdpEntityId] = useState(saml.idpEntityId ?? '');
  const [ssoUrl, setSsoUrl] = useState(saml.ssoUrl ?? '');
  const [certificatePem, setCertificatePem] = useState('');
  const [nextCertificatePem, setNextCertificatePem] = useState('');
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const cert = expiry(saml.certificateExpiresAt, 30);
  const verified = domains.filter((d) => d.status === 'VERIFIED').map((d) => d.domain);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setFieldErrors({});
    setError(null);
    const next = nextCertificatePem.trim() ? { nextCertificatePem } : {};
    const input = mode === 'metadata' ? { metadataXml, ...next } : { idpEntityId, ssoUrl, certificatePem, ...next };
    try {
      await api.request(CONFIGURE_SAML, { input });
      setEditing(false);
      setMetadataXml('');
      setCertificatePem('');
      setNextCertificatePem('');
      await onChanged();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'VALIDATION' && err.field) setFieldErrors({ [err.field]: err.message });
      else setError(err);
    } finally {
      setBusy(false);
    }
  }

  async function readFile(file: File | undefined) {
    if (file) setMetadataXml(await file.text());
  }

  return (
    <Section id="saml" title="SAML single sign-on" status={saml.configured ? <Badge tone="ok">Configured</Badge> : <Badge tone="muted">Not configured</Badge>}>
      {verified.length ? (
        <p className="signs-in" id="saml-domains">
          Signs in people of:{' '}
          {verified.map((d, i) => (
            <span key={d}>
              {i > 0 && ', '}
              <strong>{d}</strong>
            </span>
          ))}{' '}
          <a href="#domains" className="small">
            Manage domains
          </a>
        </p>
      ) : (
        <p className="warning" id="saml-domains">
          {saml.configured
            ? 'SAML signs in nobody: the workspace has no verified domain. '
            : 'SAML can’t be configured until one of your e-mail domains is verified, and it signs in nobody without one. '}
          <a href="#domains">Verify a domain in Domains</a>.
        </p>
      )}
      <p className="hint">What your identity provider needs from this workspace:</p>
      <CopyField label="ACS URL (Okta: Single sign-on URL; Entra: Reply URL)" value={saml.acsUrl} />
      <CopyField label="SP entity ID (Okta: Audience URI; Entra: Identifier)" value={saml.spEntityId} />
      <CopyField label="SP metadata URL" value={saml.spMetadataUrl} />
      <IdpSteps
        label="Identity provider for SAML"
        okta={{
          label: 'Okta SAML set-up',
          steps: (
            <>
              <li>In Okta, <strong>Applications → Create App Integration → SAML 2.0</strong>.</li>
              <li>
                <strong>Single sign-on URL</strong>: <code>{saml.acsUrl}</code> (keep <em>Use this for Recipient URL and Destination URL</em> checked).
              </li>
              <li>
                <strong>Audience URI (SP Entity ID)</strong>: <code>{saml.spEntityId}</code>
              </li>
              <li>
                <strong>Name ID format</strong>: <em>EmailAddress</em>; <strong>Application username</strong>: <em>Email</em>.
              </li>
              <li>Finish, then on the <strong>Sign On</strong> tab copy the metadata and paste it below.</li>
            </>
          ),
        }}
        entra={{
          label: 'Entra SAML set-up',
          steps: (
            <>
              <li>In Entra, <strong>Enterprise applications → New application → Create your own application</strong> (non-gallery), then <strong>Single sign-on → SAML</strong>.</li>
              <li>
                <strong>Identifier (Entity ID)</strong>: <code>{saml.spEntityId}</code>
              </li>
              <li>
                <strong>Reply URL (Assertion Consumer Service URL)</strong>: <code>{saml.acsUrl}</code>
              </li>
              <li>
                <strong>Unique User Identifier (Name ID)</strong>: <em>user.mail</em>, format <em>Email address</em>.
              </li>
              <li>Download <strong>Federation Metadata XML</strong> and upload it below.</li>
            </>
          ),
        }}
      />
      {saml.configured && (
        <dl className="facts">
          <dt>IdP entity ID</dt>
          <dd>{saml.idpEntityId}</dd>
          <dt>SSO URL</dt>
          <dd>{saml.ssoUrl}</dd>
          <dt>Signing certificate</dt>
          <dd>
            {saml.certificateSubject} — expires {cert.text}{' '}
            {cert.level === 'warn' && <Badge tone="warn">Expires soon: upload the new certificate before SSO breaks</Badge>}
          </dd>
          {saml.nextCertificateSubject && (
            <>
              <dt>Next certificate (rotation)</dt>
              <dd>
                {saml.nextCertificateSubject} — expires {expiry(saml.nextCertificateExpiresAt ?? null, 30).text}
              </dd>
            </>
          )}
        </dl>
      )}
      {saml.configured && <IdpInitiated api={api} allowed={saml.allowIdpInitiated ?? true} onChanged={onChanged} />}
      {saml.configured && <TestSignIn api={api} />}
      {saml.configured && !editing && (
        <button type="button" className="secondary" onClick={() => setEditing(true)}>
          Replace configuration
        </button>
      )}
      {editing && (
        <form onSubmit={submit} noValidate>
          <fieldset className="tabs">
            <legend>Configure from</legend>
            <label>
              <input type="radio" name="saml-mode" checked={mode === 'metadata'} onChange={() => setMode('metadata')} /> IdP metadata XML
            </label>
            <label>
              <input type="radio" name="saml-mode" checked={mode === 'fields'} onChange={() => setMode('fields')} /> Entity ID, SSO URL and certificate
            </label>
          </fieldset>
          {mode === 'metadata' ? (
            <>
                    <Field label="Metadata XML" multiline value={metadataXml} onChange={setMetadataXml} error={fieldErrors.metadataXml} placeholder="<md:EntityDescriptor …>" hint="Okta: Sign On tab → SAML 2.0 → Metadata URL (open it and copy). Entra: Single sign-on → Federation Metadata XML." />
                    <div className="field">
                      <label htmlFor="saml-file">…or upload the metadata file</label>
                      <input id="saml-file" type="file" accept=".xml,application/xml,text/xml" onChange={(e) => void readFile(e.target.files?.[0])} />
                    </div>
            </>
          ) : (
            <>
                    <Field label="IdP entity ID (issuer)" value={idpEntityId} onChange={setIdpEntityId} error={fieldErrors.idpEntityId} placeholder="http://www.okta.com/exk…" />
                    <Field label="SSO URL" value={ssoUrl} onChange={setSsoUrl} error={fieldErrors.ssoUrl} placeholder="https://your-org.okta.com/app/…/sso/saml" />
                    <Field label="Signing certificate (PEM)" multiline value={certificatePem} onChange={setCertificatePem} error={fieldErrors.certificatePem} placeholder="-----BEGIN CERTIFICATE-----" />
            </>
          )}
          <Field
            label="Next signing certificate (optional, PEM)"
            multiline
            value={nextCertificatePem}
            onChange={setNextCertificatePem}
            error={fieldErrors.nextCertificatePem}
            placeholder="-----BEGIN CERTIFICATE-----"
            hint="During a certificate rotation at the IdP, signatures by either certificate are accepted."
          />
          {error instanceof ApiError && error.code === 'DOMAIN_REQUIRED' ? (
            <p className="error" role="alert">
              {error.message} <a href="#domains">Go to Domains</a>
            </p>
          ) : (
            <ErrorNote error={error} />
          )}
          <div className="actions">
            <button type="submit" disabled={busy}>
              {busy ? 'Saving…' : 'Save SAML configuration'}
            </button>
            {saml.configured && (
              <button type="button" className="secondary" onClick={() => setEditing(false)}>
                Cancel
              </button>
            )}
          </div>
        </form>
      )}
    </Section>
  );
}

/** The switch for sign-in from IdP tiles, with what each position costs. */
function IdpInitiated({ api, allowed, onChanged }: { api: Api; allowed: boolean; onChanged: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function toggle(next: boolean) {
    setBusy(true);
    setError(null);
    try {
      await api.request(SET_ALLOW_IDP_INITIATED, { allowed: next });
      await onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="field">
      <label>
        <input type="checkbox" checked={allowed} disabled={busy} onChange={(e) => void toggle(e.target.checked)} /> Allow sign-in from the
        identity provider's app tiles (IdP-initiated)
      </label>
      <p className="hint">
        {allowed
          ? 'On: people can sign in from their Okta dashboard or Microsoft My Apps. The cost: such an answer arrives unasked, so it cannot be tied to the browser it lands in, and another site could sign a visitor in as someone else. Sign-ins started here are always tied to their browser.'
          : 'Off: everyone starts from this sign-in page, and every answer is tied to the browser that asked for it. App tiles in Okta or My Apps stop working: hide them, or point them at the sign-in page.'}
      </p>
      <ErrorNote error={error} />
    </div>
  );
}

type Report = NonNullable<ResultOf<typeof SAML_TEST_REPORT>['samlTestReport']>;

/** The id of a test sign-in the gateway sent the browser back with (`?samlTest=…`). */
function returnedTestId(): string | null {
  return new URLSearchParams(window.location.search).get('samlTest');
}

/** "Test sign-in": an SSO round trip whose answer is checked like a real one, with a report. */
function TestSignIn({ api }: { api: Api }) {
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const id = returnedTestId();
    if (!id) return;
    api
      .request(SAML_TEST_REPORT, { id })
      .then((data) => {
        if (data.samlTestReport) setReport(data.samlTestReport);
        else setError(new Error('The identity provider has not answered this test sign-in (or it expired). Run it again.'));
      })
      .catch(setError);
  }, [api]);

  async function start() {
    setBusy(true);
    setError(null);
    try {
      const data = await api.request(START_SAML_TEST);
      window.location.assign(data.startSamlTest);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  }

  return (
    <div className="test-sign-in">
      <button type="button" className="secondary" onClick={() => void start()} disabled={busy}>
        {busy ? 'Opening your identity provider…' : 'Test sign-in'}
      </button>
      <p className="hint">Signs you in at your identity provider and checks its answer step by step, without starting a session.</p>
      <ErrorNote error={error} />
      {report && (
        <div className="report" aria-label="Test sign-in report">
          <p role="status">
            {report.succeeded ? (
              <Badge tone="ok">Test sign-in succeeded</Badge>
            ) : (
              <Badge tone="warn">Test sign-in failed</Badge>
            )}{' '}
            {report.memberUserName && (
              <span>
                as {report.memberUserName} ({report.role})
              </span>
            )}
          </p>
          <ul className="checks">
            {report.checks.map((c) => (
              <li key={c.check} data-check={c.check} data-passed={c.passed === null ? 'not-checked' : String(c.passed)}>
                <span aria-hidden="true">{c.passed === null ? '–' : c.passed ? '✓' : '✗'}</span> <strong>{c.label}</strong>: {c.detail}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
