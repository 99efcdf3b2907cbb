import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemberPage } from './MemberPage';

afterEach(cleanup);

describe('MemberPage', () => {
  it('shows who signed in, their role and where it comes from, and signs out', async () => {
    const onSignOut = vi.fn();
    render(
      <MemberPage
        me={{
          userName: 'lee@acme.test',
          givenName: 'Lee',
          familyName: 'Ng',
          role: 'REVIEWER',
          roleSource: 'via group QA',
          signedInWithSso: true,
          workspace: { id: 'w1', slug: 'acme', name: 'Acme' },
        }}
        onSignOut={onSignOut}
      />,
    );
    expect(screen.getByRole('heading', { name: 'Signed in as Lee Ng' })).toBeInTheDocument();
    expect(screen.getByTestId('member-user')).toHaveTextContent('lee@acme.test');
    expect(screen.getByTestId('member-role')).toHaveTextContent('Reviewer — via group QA');
    expect(screen.queryByRole('heading', { name: /SAML/ })).toBeNull();
    await userEvent.setup().click(screen.getByRole('button', { name: 'Sign out' }));
    expect(onSignOut).toHaveBeenCalledOnce();
  });
});
