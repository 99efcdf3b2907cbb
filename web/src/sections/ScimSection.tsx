import { useState } from 'react';
import type { Api } from '../graphql';
import { DISABLE_SCIM, ENABLE_SCIM } from '../queries';
import type { Settings } from '../App';
import { Badge, CopyField, ErrorNote, IdpSteps, Section } from '../ui';

export function ScimSection({ api, saml, scim, onChanged }: { api: Api; saml: Settings['saml']; scim: Settings['scim']; onChanged: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function toggle() {
    setBusy(true);
    setError(null);
    try {
      if (scim.enabled) await api.request(DISABLE_SCIM);
      else await api.request(ENABLE_SCIM);
      await onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section id="scim" title="SCIM provisioning" status={scim.enabled ? <Badge tone="ok">On</Badge> : <Badge tone="muted">Off</Badge>}>
      <div className="switch-row">
        <button
          type="button"
          role="switch"
          aria-checked={scim.enabled}
          aria-describedby={!saml.configured ? 'scim-needs-saml' : undefined}
          className={`switch ${scim.enabled ? 'on' : ''}`}
          disabled={busy || (!saml.configured && !scim.enabled)}
          onClick={toggle}
        >
          <span className="knob" aria-hidden="true" />
          <span>{scim.enabled ? 'SCIM is on' : 'Turn SCIM on'}</span>
        </button>
        {!saml.configured && (
          <p id="scim-needs-saml" className="hint">
            SCIM needs SAML single sign-on first, so provisioned people can sign in. <a href="#saml">Configure SAML</a>.
          </p>
        )}
        {scim.enabled && <p className="hint">Turning SCIM off keeps every user, group and key; the IdP gets 403 until it is on again.</p>}
      </div>
      <ErrorNote error={error} />
      <CopyField label="SCIM base URL" value={scim.baseUrl} />
      <IdpSteps
        label="Identity provider"
        okta={{
          label: 'Okta set-up',
          steps: (
            <>
              <li>In your SAML app, open <strong>General → App Settings</strong>, enable <strong>SCIM provisioning</strong> and save.</li>
              <li>
                On the <strong>Provisioning</strong> tab, set <strong>SCIM connector base URL</strong> to <code>{scim.baseUrl}</code>.
              </li>
              <li>
                <strong>Unique identifier field for users</strong>: <code>email</code>.
              </li>
              <li>Supported actions: <em>Push New Users</em>, <em>Push Profile Updates</em>, <em>Push Groups</em>.</li>
              <li>
                <strong>Authentication Mode</strong>: <em>HTTP Header</em>; <strong>Authorization</strong>: <code>Bearer</code> + an API key from <a href="#keys">API keys</a>. Test the connector, save.
              </li>
              <li>Under <strong>To App</strong>, enable Create Users, Update User Attributes and Deactivate Users; push the groups you map in <a href="#mapping">Group → role</a>.</li>
            </>
          ),
        }}
        entra={{
          label: 'Entra set-up',
          steps: (
            <>
              <li>In your enterprise application, open <strong>Provisioning</strong> and set <strong>Provisioning Mode</strong> to <em>Automatic</em>.</li>
              <li>
                <strong>Tenant URL</strong>: <code>{scim.baseUrl}</code>
              </li>
              <li>
                <strong>Secret Token</strong>: an API key from <a href="#keys">API keys</a> (choose <em>Never expires</em>: Entra quarantines provisioning when its token expires).
              </li>
              <li>Click <strong>Test Connection</strong>, then save.</li>
              <li>Under <strong>Mappings</strong>, keep <code>userPrincipalName → userName</code> (or map the mail attribute) and provision the groups you map in <a href="#mapping">Group → role</a>.</li>
              <li>Set <strong>Provisioning Status</strong> to <em>On</em>.</li>
            </>
          ),
        }}
      />
    </Section>
  );
}
