import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DomainsSection, POLL_MS, type Domain } from './DomainsSection';
import { ApiError, type Api } from '../graphql';
import { CHECK_DOMAIN, CLAIM_DOMAIN, REMOVE_DOMAIN } from '../queries';

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const MIN = 60_000;

function claim(domain: string, over: Partial<Domain> = {}): Domain {
  const ascii = over.asciiDomain ?? domain;
  return {
    domain,
    asciiDomain: ascii,
    status: 'PENDING',
    txtName: `_scim-gateway.${ascii}`,
    txtValue: `scim-gateway-verification=${ascii.replace(/\W/g, '')}0123456789abcdef`,
    verifiedAt: null,
    verifiedBy: null,
    lastCheckedAt: null,
    lastError: null,
    missingSince: null,
    deadline: null,
    nextCheckAt: new Date(Date.now() + 8 * MIN).toISOString(),
    createdAt: ago(20 * MIN),
    ...over,
  };
}

const pending = claim('bücher.example', {
  asciiDomain: 'xn--bcher-kva.example',
  lastCheckedAt: ago(2 * MIN),
  lastError: 'no TXT record at _scim-gateway.xn--bcher-kva.example',
  deadline: new Date(Date.now() + 71 * 60 * MIN).toISOString(),
});
const byDns = claim('acme.de', { status: 'VERIFIED', verifiedBy: 'DNS', verifiedAt: ago(86400_000), lastCheckedAt: ago(3600_000), nextCheckAt: new Date(Date.now() + 20 * 3600_000).toISOString() });
const byOperator = claim('example.com', { status: 'VERIFIED', verifiedBy: 'OPERATOR', verifiedAt: ago(86400_000), nextCheckAt: null });
const failed = claim('old.example', { status: 'FAILED', lastCheckedAt: ago(MIN), lastError: 'no TXT record at _scim-gateway.old.example', nextCheckAt: null });
const lapsed = claim('gone.example', { status: 'LAPSED', verifiedBy: 'DNS', lastCheckedAt: ago(MIN), lastError: 'no TXT record at _scim-gateway.gone.example', nextCheckAt: new Date(Date.now() + 86400_000).toISOString() });
const all = [pending, byDns, byOperator, failed, lapsed];

function setup(domains: Domain[], request: (doc: unknown, vars: unknown) => Promise<unknown> = vi.fn()) {
  const api = { request, subscribe: () => () => {}, close: () => {} } as unknown as Api;
  const onChanged = vi.fn(async () => {});
  const onPoll = vi.fn(async () => {});
  const view = render(<DomainsSection api={api} domains={domains} onChanged={onChanged} onPoll={onPoll} />);
  return { onChanged, onPoll, view, api };
}

const item = (domain: string) => screen.getByRole('listitem', { name: domain });

describe('DomainsSection', () => {
  it('shows each claim with its status, and the TXT record while the record is what proves it', () => {
    setup(all);
    expect(screen.getByText('2 verified')).toBeInTheDocument();

    const p = item('bücher.example');
    expect(within(p).getByRole('status')).toHaveTextContent(/^Pending Waiting for the TXT record: checked every 10 minutes until/);
    expect(within(p).getByText('(xn--bcher-kva.example)')).toBeInTheDocument();
    expect(within(p).getByLabelText('TXT record name')).toHaveValue('_scim-gateway.xn--bcher-kva.example');
    expect(within(p).getByLabelText('TXT record value')).toHaveValue(pending.txtValue);
    expect(within(p).getByText('no TXT record at _scim-gateway.xn--bcher-kva.example')).toBeInTheDocument();
    expect(within(p).getByText('2 min ago')).toBeInTheDocument();
    expect(within(p).getByText('in 8 min')).toBeInTheDocument();
    expect(within(p).getByRole('button', { name: 'Check now for bücher.example' })).toBeEnabled();

    // Verified by DNS: the record stays in view (it must stay published).
    const dns = item('acme.de');
    expect(within(dns).getByRole('status')).toHaveTextContent(/^Verified Since .*Keep the record published/);
    expect(within(dns).getByLabelText('TXT record value')).toHaveValue(byDns.txtValue);
    expect(within(dns).getByText('1 h ago')).toBeInTheDocument();
    expect(within(dns).getByText('in 20 h')).toBeInTheDocument();

    // Vouched for by the operator: no record, nothing to check.
    const op = item('example.com');
    expect(within(op).getByRole('status')).toHaveTextContent('Verified by the operator');
    expect(within(op).queryByLabelText('TXT record name')).toBeNull();
    expect(within(op).queryByRole('button', { name: /Check now/ })).toBeNull();
    expect(within(op).getByRole('button', { name: 'Remove example.com' })).toBeInTheDocument();

    const f = item('old.example');
    expect(within(f).getByRole('status')).toHaveTextContent(/^Failed The record was not seen within 72 hours/);
    expect(within(f).getByLabelText('TXT record name')).toHaveValue('_scim-gateway.old.example');
    expect(within(f).getByText('only when you press Check now')).toBeInTheDocument();
    expect(within(f).getByRole('button', { name: 'Check now for old.example' })).toBeInTheDocument();

    const l = item('gone.example');
    expect(within(l).getByRole('status')).toHaveTextContent(/^Lapsed The record was gone for 7 days/);
    expect(within(l).getByLabelText('TXT record value')).toHaveValue(lapsed.txtValue);
    expect(within(l).getByText('no TXT record at _scim-gateway.gone.example')).toBeInTheDocument();
  });

  it('warns when a verified domain’s record has gone missing, with the day it lapses', () => {
    const missing = claim('acme.de', { ...byDns, missingSince: '2026-03-01T10:00:00Z', deadline: '2026-03-08T10:00:00Z', lastError: 'no TXT record at _scim-gateway.acme.de' });
    setup([missing]);
    expect(within(item('acme.de')).getByRole('status')).toHaveTextContent(/missing since 1 Mar 2026.*lapses 8 Mar 2026/);
  });

  it('copies the exact TXT name and value', async () => {
    const user = userEvent.setup();
    setup(all);
    const p = item('bücher.example');
    await user.click(within(p).getByRole('button', { name: 'Copy TXT record name for bücher.example' }));
    expect(await navigator.clipboard.readText()).toBe('_scim-gateway.xn--bcher-kva.example');
    await user.click(within(p).getByRole('button', { name: 'Copy TXT record value for bücher.example' }));
    expect(await navigator.clipboard.readText()).toBe(pending.txtValue);
    expect(within(p).getByRole('button', { name: 'Copied TXT record value for bücher.example' })).toBeInTheDocument();
    await user.click(within(item('acme.de')).getByRole('button', { name: 'Copy TXT record value for acme.de' }));
    expect(await navigator.clipboard.readText()).toBe(byDns.txtValue);
  });

  it('adds a domain, and shows why the gateway refused one next to the field', async () => {
    const user = userEvent.setup();
    const request = vi.fn(async (doc: unknown, variables: unknown) => {
      const vars = variables as { domain: string };
      expect(doc).toBe(CLAIM_DOMAIN);
      if (vars.domain === 'gmail.com') throw new ApiError('gmail.com is a consumer mail domain: its addresses belong to many people', 'VALIDATION', 'domain');
      return { claimDomain: claim(vars.domain) };
    });
    const { onChanged } = setup([], request);
    expect(screen.getByText(/No domains yet: SAML signs in nobody/)).toBeInTheDocument();
    expect(screen.getByText('None verified')).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Add domain' }));
    expect(request).not.toHaveBeenCalled();
    expect(screen.getByRole('alert')).toHaveTextContent("Enter the domain of your people's e-mail addresses");

    const field = screen.getByLabelText('Domain');
    await user.type(field, ' gmail.com ');
    await user.click(screen.getByRole('button', { name: 'Add domain' }));
    expect(request).toHaveBeenCalledWith(CLAIM_DOMAIN, { domain: 'gmail.com' });
    expect(await screen.findByRole('alert')).toHaveTextContent('gmail.com is a consumer mail domain: its addresses belong to many people');
    expect(field).toHaveAttribute('aria-invalid', 'true');
    expect(field).toHaveAccessibleDescription(/consumer mail domain/);
    expect(onChanged).not.toHaveBeenCalled();

    await user.clear(field);
    await user.type(field, 'acme.com');
    await user.click(screen.getByRole('button', { name: 'Add domain' }));
    expect(request).toHaveBeenLastCalledWith(CLAIM_DOMAIN, { domain: 'acme.com' });
    expect(onChanged).toHaveBeenCalledOnce();
    expect(screen.queryByRole('alert')).toBeNull();
    expect(field).toHaveValue('');
    expect(screen.getByText('Added acme.com: publish its TXT record, shown below.')).toBeInTheDocument();
  });

  it('checks now, and shows a refusal (too soon, taken) inline on that claim', async () => {
    const user = userEvent.setup();
    const answers = [
      async () => ({ checkDomain: pending }),
      async () => {
        throw new ApiError('domains were checked moments ago; check again in 7 s (they are also checked in the background)', 'RATE_LIMITED');
      },
      async () => {
        throw new ApiError('old.example is verified by another workspace; ask its admins to remove it, or contact support', 'DOMAIN_TAKEN');
      },
    ];
    const request = vi.fn(async () => answers.shift()!());
    const { onChanged } = setup(all, request);

    await user.click(screen.getByRole('button', { name: 'Check now for bücher.example' }));
    // The ASCII form goes to the gateway: what it stores.
    expect(request).toHaveBeenCalledWith(CHECK_DOMAIN, { domain: 'xn--bcher-kva.example' });
    expect(onChanged).toHaveBeenCalledOnce();

    await user.click(screen.getByRole('button', { name: 'Check now for bücher.example' }));
    expect(await within(item('bücher.example')).findByRole('alert')).toHaveTextContent('Not checked: domains were checked moments ago; check again in 7 s');
    expect(onChanged).toHaveBeenCalledOnce();

    await user.click(screen.getByRole('button', { name: 'Check now for old.example' }));
    expect(request).toHaveBeenLastCalledWith(CHECK_DOMAIN, { domain: 'old.example' });
    expect(await within(item('old.example')).findByRole('alert')).toHaveTextContent('old.example is verified by another workspace');
    // That lookup was stored (its time and reason): the list is asked again; a refused one was not.
    expect(onChanged).toHaveBeenCalledTimes(2);
    // Each claim keeps its own message.
    expect(within(item('bücher.example')).getByRole('alert')).toHaveTextContent('check again in 7 s');
    expect(within(item('acme.de')).queryByRole('alert')).toBeNull();
  });

  it('removes a domain only after a confirmation that warns what a verified one stops', async () => {
    const user = userEvent.setup();
    const request = vi.fn(async () => ({ removeDomain: { domain: 'acme.de', status: 'VERIFIED' } }));
    const { onChanged } = setup([pending, byDns], request);

    await user.click(screen.getByRole('button', { name: 'Remove acme.de' }));
    const dialog = screen.getByRole('dialog', { name: 'Remove acme.de?' });
    expect(dialog).toHaveTextContent('removing it stops your identity provider signing in people with @acme.de addresses at once');
    expect(dialog).toHaveTextContent('It is the only verified domain, so SAML will sign in nobody');
    expect(request).not.toHaveBeenCalled();
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(request).not.toHaveBeenCalled();

    // A pending claim: no warning about sign-in.
    await user.click(screen.getByRole('button', { name: 'Remove bücher.example' }));
    expect(screen.getByRole('dialog', { name: 'Remove bücher.example?' })).not.toHaveTextContent('stops your identity provider');
    await user.click(screen.getByRole('button', { name: 'Cancel' }));

    await user.click(screen.getByRole('button', { name: 'Remove acme.de' }));
    await user.click(screen.getByRole('button', { name: 'Remove domain' }));
    expect(request).toHaveBeenCalledExactlyOnceWith(REMOVE_DOMAIN, { domain: 'acme.de' });
    expect(onChanged).toHaveBeenCalledOnce();
    expect(screen.getByText('Removed acme.de.')).toBeInTheDocument();
  });

  it('asks for the list every 5 s while a claim is pending, and stops when none is or when it goes', async () => {
    vi.useFakeTimers();
    const { onPoll, view, api } = setup([pending, byDns]);
    expect(onPoll).not.toHaveBeenCalled();
    await act(() => vi.advanceTimersByTimeAsync(POLL_MS));
    expect(onPoll).toHaveBeenCalledTimes(1);
    await act(() => vi.advanceTimersByTimeAsync(POLL_MS));
    expect(onPoll).toHaveBeenCalledTimes(2);

    // The claim turned verified: no more polling.
    const props = { api, onChanged: vi.fn(async () => {}), onPoll };
    view.rerender(<DomainsSection {...props} domains={[{ ...pending, status: 'VERIFIED', verifiedBy: 'DNS' }, byDns]} />);
    await act(() => vi.advanceTimersByTimeAsync(3 * POLL_MS));
    expect(onPoll).toHaveBeenCalledTimes(2);

    // Pending again (a new claim), then the section goes away.
    view.rerender(<DomainsSection {...props} domains={[pending, byDns]} />);
    await act(() => vi.advanceTimersByTimeAsync(POLL_MS));
    expect(onPoll).toHaveBeenCalledTimes(3);
    view.unmount();
    await act(() => vi.advanceTimersByTimeAsync(3 * POLL_MS));
    expect(onPoll).toHaveBeenCalledTimes(3);
  });

  it('keeps polling after a failed poll', async () => {
    vi.useFakeTimers();
    const { onPoll } = setup([pending]);
    onPoll.mockRejectedValueOnce(new Error('The gateway did not answer.'));
    await act(() => vi.advanceTimersByTimeAsync(POLL_MS));
    await act(() => vi.advanceTimersByTimeAsync(POLL_MS));
    expect(onPoll).toHaveBeenCalledTimes(2);
  });
});
