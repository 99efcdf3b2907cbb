import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { SamlSection } from './SamlSection';
import type { Api } from '../graphql';

afterEach(cleanup);

const sp = {
  spEntityId: 'https://gw/api/teams/w/saml/metadata',
  acsUrl: 'https://gw/api/teams/w/saml/acs',
  spMetadataUrl: 'https://gw/api/teams/w/saml/metadata',
};

describe('SamlSection', () => {
  it('shows what the IdP needs before SAML is configured, with each IdP\'s steps', async () => {
    const api = { request: vi.fn() } as unknown as Api;
    render(
      <SamlSection
        api={api}
        saml={{ configured: false, idpEntityId: null, ssoUrl: null, certificateSubject: null, certificateExpiresAt: null, certificateExpiresSoon: false, nextCertificateSubject: null, nextCertificateExpiresAt: null, updatedAt: null, allowIdpInitiated: null, ...sp }}
        onChanged={vi.fn()}
      />,
    );
    expect(screen.getByLabelText('ACS URL (Okta: Single sign-on URL; Entra: Reply URL)')).toHaveValue(sp.acsUrl);
    expect(screen.getByLabelText('SP entity ID (Okta: Audience URI; Entra: Identifier)')).toHaveValue(sp.spEntityId);
    expect(screen.getByLabelText('SP metadata URL')).toHaveValue(sp.spMetadataUrl);
    const okta = screen.getByRole('tabpanel', { name: 'Okta SAML set-up' });
    expect(okta).toHaveTextContent(`Single sign-on URL: ${sp.acsUrl}`);
    expect(okta).toHaveTextContent(`Audience URI (SP Entity ID): ${sp.spEntityId}`);
    await userEvent.setup().click(screen.getByRole('tab', { name: 'Microsoft Entra ID' }));
    const entra = screen.getByRole('tabpanel', { name: 'Entra SAML set-up' });
    expect(entra).toHaveTextContent(`Identifier (Entity ID): ${sp.spEntityId}`);
    expect(entra).toHaveTextContent(`Reply URL (Assertion Consumer Service URL): ${sp.acsUrl}`);
    expect(api.request).not.toHaveBeenCalled();
  });

  it('shows the report of a test sign-in the gateway sent the browser back with', async () => {
    window.history.replaceState(null, '', '/?samlTest=id42#saml');
    const report = {
      succeeded: false,
      subject: 'bob@acme.test',
      memberUserName: 'bob@acme.test',
      role: 'Labeler',
      checks: [
        { check: 'SIGNATURE', label: 'Signature', passed: true, detail: 'signed by the configured IdP certificate' },
        { check: 'PERSON', label: 'Who signs in', passed: false, detail: 'bob@acme.test is a deactivated member' },
        { check: 'REPLAY', label: 'First use of the assertion', passed: null, detail: 'not checked' },
      ],
    };
    const request = vi.fn().mockResolvedValue({ samlTestReport: report });
    const api = { request } as unknown as Api;
    render(
      <SamlSection
        api={api}
        saml={{ configured: true, idpEntityId: 'http://idp', ssoUrl: 'https://idp/sso', certificateSubject: 'CN=idp', certificateExpiresAt: '2030-01-01T00:00:00Z', certificateExpiresSoon: false, nextCertificateSubject: null, nextCertificateExpiresAt: null, updatedAt: null, allowIdpInitiated: true, ...sp }}
        onChanged={vi.fn()}
      />,
    );
    const list = await screen.findByLabelText('Test sign-in report');
    expect(request).toHaveBeenCalledWith(expect.anything(), { id: 'id42' });
    expect(screen.getByRole('status')).toHaveTextContent('Test sign-in failed as bob@acme.test (Labeler)');
    expect(list.querySelector('[data-check="PERSON"]')).toHaveAttribute('data-passed', 'false');
    expect(list.querySelector('[data-check="PERSON"]')).toHaveTextContent('Who signs in: bob@acme.test is a deactivated member');
    expect(list.querySelector('[data-check="SIGNATURE"]')).toHaveAttribute('data-passed', 'true');
    expect(list.querySelector('[data-check="REPLAY"]')).toHaveAttribute('data-passed', 'not-checked');
    window.history.replaceState(null, '', '/');
  });

  it('switches IdP-initiated sign-in off and says what each position costs', async () => {
    const request = vi.fn(async () => ({ setAllowIdpInitiated: { allowIdpInitiated: false } }));
    const onChanged = vi.fn(async () => {});
    const configured = { configured: true as const, idpEntityId: 'http://idp', ssoUrl: 'https://idp/sso', certificateSubject: 'CN=idp', certificateExpiresAt: '2030-01-01T00:00:00Z', certificateExpiresSoon: false, nextCertificateSubject: null, nextCertificateExpiresAt: null, updatedAt: null, ...sp };
    const { rerender } = render(<SamlSection api={{ request } as unknown as Api} saml={{ ...configured, allowIdpInitiated: true }} onChanged={onChanged} />);
    const box = screen.getByRole('checkbox', { name: /IdP-initiated/ });
    expect(box).toBeChecked();
    expect(screen.getByText(/another site could sign a visitor in as someone else/)).toBeInTheDocument();
    await userEvent.setup().click(box);
    expect(request).toHaveBeenCalledWith(expect.anything(), { allowed: false });
    expect(onChanged).toHaveBeenCalled();
    rerender(<SamlSection api={{ request } as unknown as Api} saml={{ ...configured, allowIdpInitiated: false }} onChanged={onChanged} />);
    expect(screen.getByRole('checkbox', { name: /IdP-initiated/ })).not.toBeChecked();
    expect(screen.getByText(/App tiles in Okta or My Apps stop working/)).toBeInTheDocument();
  });
});
