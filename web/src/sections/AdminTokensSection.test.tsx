import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { AdminTokensSection } from './AdminTokensSection';
import type { Api } from '../graphql';

afterEach(cleanup);

const now = new Date().toISOString();
const soon = new Date(Date.now() + 3 * 86400000).toISOString();
const tokens = [
  { id: 't2', prefix: 'sgat_SecondX', email: 'sam@acme.test', name: 'Sam Second', current: false, createdAt: now, lastUsedAt: now, expiresAt: soon, expiresSoon: true, revokedAt: null, status: 'ACTIVE' as const },
  { id: 't1', prefix: 'sgat_OwnerXY', email: 'owner@acme.test', name: null, current: true, createdAt: now, lastUsedAt: null, expiresAt: null, expiresSoon: false, revokedAt: null, status: 'ACTIVE' as const },
  { id: 't0', prefix: 'sgat_OldOneZ', email: 'old@acme.test', name: null, current: false, createdAt: now, lastUsedAt: null, expiresAt: null, expiresSoon: false, revokedAt: now, status: 'REVOKED' as const },
];

function setup(request: (doc: unknown, vars: unknown) => Promise<unknown>) {
  const api = { request, subscribe: () => () => {}, close: () => {} } as unknown as Api;
  const onChanged = vi.fn(async () => {});
  render(<AdminTokensSection api={api} tokens={tokens} onChanged={onChanged} />);
  return { onChanged };
}

describe('AdminTokensSection', () => {
  it('lists whose each token is, its dates, and marks this browser’s', () => {
    setup(vi.fn());
    expect(screen.getByText('sgat_SecondX…')).toBeInTheDocument();
    expect(screen.getByText('Sam Second')).toBeInTheDocument();
    expect(screen.getByText('Expires soon')).toBeInTheDocument();
    expect(screen.getByText('This browser')).toBeInTheDocument();
    expect(screen.getAllByText('Never expires')).toHaveLength(2);
    expect(screen.getByText(/^Revoked/)).toBeInTheDocument();
    expect(screen.getByText('2 active')).toBeInTheDocument();
    // A revoked token can't be revoked again.
    expect(screen.queryByRole('button', { name: /sgat_OldOneZ/ })).toBeNull();
  });

  it('revokes only after confirmation', async () => {
    const request = vi.fn(async () => ({ revokeAdminToken: { id: 't2', revokedAt: now } }));
    const { onChanged } = setup(request);
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Revoke token sgat_SecondX of sam@acme.test' }));
    expect(request).not.toHaveBeenCalled();
    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(request).not.toHaveBeenCalled();
    await user.click(screen.getByRole('button', { name: 'Revoke token sgat_SecondX of sam@acme.test' }));
    await user.click(screen.getByRole('button', { name: 'Revoke token' }));
    expect(request).toHaveBeenCalledWith(expect.anything(), { id: 't2' });
    expect(onChanged).toHaveBeenCalledOnce();
  });

  it('warns before revoking this browser’s own token', async () => {
    setup(vi.fn());
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Revoke token sgat_OwnerXY of owner@acme.test' }));
    expect(screen.getByText(/you will be signed out/)).toBeInTheDocument();
  });
});
