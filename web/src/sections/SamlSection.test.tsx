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
        saml={{ configured: false, idpEntityId: null, ssoUrl: null, certificateSubject: null, certificateExpiresAt: null, certificateExpiresSoon: false, updatedAt: null, ...sp }}
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
});
