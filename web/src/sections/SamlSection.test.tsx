import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { SamlSection } from './SamlSection';
import type { Domain } from './DomainsSection';
import { ApiError, type Api } from '../graphql';

afterEach(() => {
  cleanup();
  // The report test sets ?samlTest=…: it must not leak into the next test when it fails.
  window.history.replaceState(null, '', '/');
});

const sp = {
  spEntityId: 'https://gw/api/teams/w/saml/metadata',
  acsUrl: 'https://gw/api/teams/w/saml/acs',
  spMetadataUrl: 'https://gw/api/teams/w/saml/metadata',
};

function domain(name: string, status: Domain['status'], verifiedBy: Domain['verifiedBy'] = null): Domain {
  return {
    domain: name,
    asciiDomain: name,
    status,
    txtName: `_scim-gateway.${name}`,
    txtValue: 'scim-gateway-verification=00',
    verifiedAt: status === 'VERIFIED' ? '2026-01-01T00:00:00Z' : null,
    verifiedBy,
    lastCheckedAt: null,
    lastError: null,
    missingSince: null,
    deadline: null,
    nextCheckAt: null,
    createdAt: '2026-01-01T00:00:00Z',
  };
}

const verified = [domain('acme.com', 'VERIFIED', 'DNS')];
const notConfigured = { configured: false, idpEntityId: null, ssoUrl: null, certificateSubject: null, certificateExpiresAt: null, certificateExpiresSoon: false, nextCertificateSubject: null, nextCertificateExpiresAt: null, updatedAt: null, allowIdpInitiated: null, ...sp };

describe('SamlSection', () => {
  it('shows what the IdP needs before SAML is configured, with each IdP\'s steps', async () => {
    const api = { request: vi.fn() } as unknown as Api;
    render(
      <SamlSection
        api={api}
        saml={notConfigured}
        domains={verified}
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
        { check: 'DOMAIN', label: 'Address in a verified domain', passed: true, detail: 'acme.test is verified by this workspace' },
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
        domains={verified}
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
    // The DOMAIN check (new with claimed domains) is a line like the others, in the gateway's order.
    expect(list.querySelector('[data-check="DOMAIN"]')).toHaveAttribute('data-passed', 'true');
    expect(list.querySelector('[data-check="DOMAIN"]')).toHaveTextContent('✓ Address in a verified domain: acme.test is verified by this workspace');
    expect([...list.querySelectorAll('li')].map((li) => li.getAttribute('data-check'))).toEqual(['SIGNATURE', 'DOMAIN', 'PERSON', 'REPLAY']);
  });

  it('switches IdP-initiated sign-in off and says what each position costs', async () => {
    const request = vi.fn(async () => ({ setAllowIdpInitiated: { allowIdpInitiated: false } }));
    const onChanged = vi.fn(async () => {});
    const configured = { configured: true as const, idpEntityId: 'http://idp', ssoUrl: 'https://idp/sso', certificateSubject: 'CN=idp', certificateExpiresAt: '2030-01-01T00:00:00Z', certificateExpiresSoon: false, nextCertificateSubject: null, nextCertificateExpiresAt: null, updatedAt: null, ...sp };
    const { rerender } = render(<SamlSection api={{ request } as unknown as Api} saml={{ ...configured, allowIdpInitiated: true }} domains={verified} onChanged={onChanged} />);
    const box = screen.getByRole('checkbox', { name: /IdP-initiated/ });
    expect(box).toBeChecked();
    expect(screen.getByText(/another site could sign a visitor in as someone else/)).toBeInTheDocument();
    await userEvent.setup().click(box);
    expect(request).toHaveBeenCalledWith(expect.anything(), { allowed: false });
    expect(onChanged).toHaveBeenCalled();
    rerender(<SamlSection api={{ request } as unknown as Api} saml={{ ...configured, allowIdpInitiated: false }} domains={verified} onChanged={onChanged} />);
    expect(screen.getByRole('checkbox', { name: /IdP-initiated/ })).not.toBeChecked();
    expect(screen.getByText(/App tiles in Okta or My Apps stop working/)).toBeInTheDocument();
  });

  it('says whose addresses it signs in: the verified domains only', () => {
    const domains = [
      domain('acme.com', 'VERIFIED', 'DNS'),
      domain('pending.example', 'PENDING'),
      domain('acme.de', 'VERIFIED', 'OPERATOR'),
      domain('gone.example', 'LAPSED', 'DNS'),
      domain('old.example', 'FAILED'),
    ];
    const { container } = render(<SamlSection api={{ request: vi.fn() } as unknown as Api} saml={notConfigured} domains={domains} onChanged={vi.fn()} />);
    expect(container.querySelector('#saml-domains')).toHaveTextContent(/^Signs in people of: acme\.com, acme\.de Manage domains$/);
    expect(screen.getByRole('link', { name: 'Manage domains' })).toHaveAttribute('href', '#domains');
    expect(screen.queryByText(/can’t be configured/)).toBeNull();
  });

  it('says SAML signs in nobody, and can’t be configured, until a domain is verified', () => {
    const unverified = [domain('pending.example', 'PENDING'), domain('gone.example', 'LAPSED', 'DNS')];
    const { container, rerender } = render(<SamlSection api={{ request: vi.fn() } as unknown as Api} saml={notConfigured} domains={unverified} onChanged={vi.fn()} />);
    const notice = container.querySelector('#saml-domains');
    expect(notice).toHaveTextContent('SAML can’t be configured until one of your e-mail domains is verified, and it signs in nobody without one.');
    expect(screen.getByRole('link', { name: 'Verify a domain in Domains' })).toHaveAttribute('href', '#domains');
    expect(screen.queryByText(/Signs in people of/)).toBeNull();

    // Configured before its only domain lapsed: it signs in nobody now.
    const configured = { ...notConfigured, configured: true, idpEntityId: 'http://idp', ssoUrl: 'https://idp/sso', certificateSubject: 'CN=idp', certificateExpiresAt: '2030-01-01T00:00:00Z', allowIdpInitiated: true };
    rerender(<SamlSection api={{ request: vi.fn() } as unknown as Api} saml={configured} domains={unverified} onChanged={vi.fn()} />);
    expect(container.querySelector('#saml-domains')).toHaveTextContent('SAML signs in nobody: the workspace has no verified domain.');
  });

  it('shows the gateway’s DOMAIN_REQUIRED answer with the way to Domains', async () => {
    const message = 'verify one of your e-mail domains first (Settings → Domains): SAML signs in only addresses of the workspace\'s verified domains';
    const request = vi.fn(async () => {
      throw new ApiError(message, 'DOMAIN_REQUIRED');
    });
    const onChanged = vi.fn(async () => {});
    render(<SamlSection api={{ request } as unknown as Api} saml={notConfigured} domains={[]} onChanged={onChanged} />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText('Metadata XML'), '<md:EntityDescriptor/>');
    await user.click(screen.getByRole('button', { name: 'Save SAML configuration' }));
    expect(request).toHaveBeenCalledWith(expect.anything(), { input: { metadataXml: '<md:EntityDescriptor/>' } });
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent(`${message} Go to Domains`);
    expect(within(alert).getByRole('link', { name: 'Go to Domains' })).toHaveAttribute('href', '#domains');
    expect(onChanged).not.toHaveBeenCalled();
  });
});
