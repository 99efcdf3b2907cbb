import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ScimSection } from './ScimSection';
import type { Api } from '../graphql';

afterEach(cleanup);

const saml = (configured: boolean) => ({
  configured,
  idpEntityId: null,
  ssoUrl: null,
  certificateSubject: null,
  certificateExpiresAt: null,
  certificateExpiresSoon: false,
  nextCertificateSubject: null,
  nextCertificateExpiresAt: null,
  updatedAt: null,
  allowIdpInitiated: null,
  spEntityId: 'https://gw/api/teams/w/saml/metadata',
  acsUrl: 'https://gw/api/teams/w/saml/acs',
  spMetadataUrl: 'https://gw/api/teams/w/saml/metadata',
});

describe('ScimSection', () => {
  it('keeps the switch off until SAML is configured, and says why', () => {
    const api = { request: vi.fn() } as unknown as Api;
    render(<ScimSection api={api} saml={saml(false)} scim={{ enabled: false, baseUrl: 'https://gw/scim/v2' }} onChanged={vi.fn()} />);
    const toggle = screen.getByRole('switch');
    expect(toggle).toBeDisabled();
    expect(toggle).toHaveAttribute('aria-checked', 'false');
    expect(screen.getByText(/SCIM needs SAML single sign-on first/)).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Configure SAML' })).toHaveAttribute('href', '#saml');
  });

  it('turns SCIM on and shows the exact values for each IdP', async () => {
    const request = vi.fn(async () => ({ enableScim: { enabled: true, baseUrl: 'https://gw/scim/v2' } }));
    const onChanged = vi.fn(async () => {});
    render(<ScimSection api={{ request } as unknown as Api} saml={saml(true)} scim={{ enabled: false, baseUrl: 'https://gw/scim/v2' }} onChanged={onChanged} />);
    const user = userEvent.setup();
    await user.click(screen.getByRole('switch'));
    expect(request).toHaveBeenCalledOnce();
    expect(onChanged).toHaveBeenCalledOnce();
    expect(screen.getByDisplayValue('https://gw/scim/v2')).toBeInTheDocument();
    expect(screen.getByText('SCIM connector base URL')).toBeInTheDocument();
    await user.click(screen.getByRole('tab', { name: 'Microsoft Entra ID' }));
    expect(screen.getByText('Tenant URL')).toBeInTheDocument();
  });
});
