import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ApiKeysSection } from './ApiKeysSection';
import type { Api } from '../graphql';

afterEach(cleanup);

const soon = new Date(Date.now() + 5 * 86400000).toISOString();
const keys = [
  { id: 'k1', name: 'Okta', prefix: 'scim_AbCdEfG', createdAt: new Date().toISOString(), expiresAt: soon, expiresSoon: true, lastUsedAt: new Date().toISOString(), lastUsedClient: 'Okta', revokedAt: null, status: 'ACTIVE' as const },
];

function setup(request: (doc: unknown, vars: unknown) => Promise<unknown>) {
  const api = { request, subscribe: () => () => {}, close: () => {} } as unknown as Api;
  const onChanged = vi.fn(async () => {});
  render(<ApiKeysSection api={api} keys={keys} baseUrl="https://gw.example/api/teams/t1/scim/v2" onChanged={onChanged} />);
  return { onChanged };
}

describe('ApiKeysSection', () => {
  it('lists keys with last use, client and an expiry warning', () => {
    setup(vi.fn());
    expect(screen.getByText('scim_AbCdEfG…')).toBeInTheDocument();
    expect(screen.getByText(/by Okta/)).toBeInTheDocument();
    expect(screen.getByText('Expires soon')).toBeInTheDocument();
  });

  it('asks for a name, then shows the secret once with the base URL', async () => {
    const request = vi.fn(async (_doc: unknown, vars: unknown) => {
      expect(vars).toEqual({ name: 'Entra', days: null });
      return { generateApiKey: { secret: 'scim_secret_value', apiKey: { id: 'k2', name: 'Entra', prefix: 'scim_secret_' } } };
    });
    const { onChanged } = setup(request);
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Generate key' }));
    expect(screen.getByText(/Name the key after where it is used/)).toBeInTheDocument();
    expect(request).not.toHaveBeenCalled();
    await user.type(screen.getByLabelText('Key name'), 'Entra');
    await user.selectOptions(screen.getByLabelText('Expires'), 'never');
    await user.click(screen.getByRole('button', { name: 'Generate key' }));
    expect(await screen.findByDisplayValue('scim_secret_value')).toBeInTheDocument();
    expect(screen.getByText(/only time it is shown/)).toBeInTheDocument();
    expect(screen.getByDisplayValue('https://gw.example/api/teams/t1/scim/v2')).toBeInTheDocument();
    expect(onChanged).toHaveBeenCalledOnce();
    await user.click(screen.getByRole('button', { name: 'I have copied it' }));
    expect(screen.queryByDisplayValue('scim_secret_value')).not.toBeInTheDocument();
  });

  it('revokes only after confirmation', async () => {
    const request = vi.fn(async () => ({ revokeApiKey: { id: 'k1', revokedAt: new Date().toISOString() } }));
    setup(request);
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Revoke Okta' }));
    expect(request).not.toHaveBeenCalled();
    await user.click(screen.getByRole('button', { name: 'Revoke key' }));
    expect(request).toHaveBeenCalledWith(expect.anything(), { id: 'k1' });
  });
});
