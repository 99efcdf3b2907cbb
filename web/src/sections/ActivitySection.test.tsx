import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen } from '@testing-library/react';
import { ActivitySection } from './ActivitySection';
import { ApiError, type Api } from '../graphql';

afterEach(cleanup);

function setup() {
  let fail: (e: ApiError) => void = () => {};
  const api = {
    request: vi.fn(async () => ({ workspace: { activity: { nodes: [], totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null } } } })),
    subscribe: (_doc: unknown, _next: unknown, onError: (e: ApiError) => void) => {
      fail = onError;
      return () => {};
    },
    close: () => {},
  } as unknown as Api;
  const onAccessEnded = vi.fn();
  render(<ActivitySection api={api} version={0} onAccessEnded={onAccessEnded} />);
  return { onAccessEnded, fail: (e: ApiError) => fail(e) };
}

describe('ActivitySection', () => {
  it('reports when the gateway ends the live stream for lost access', async () => {
    const { onAccessEnded, fail } = setup();
    expect(await screen.findByText('Live')).toBeInTheDocument();
    fail(new ApiError('your membership of this workspace is deactivated', 'FORBIDDEN'));
    expect(await screen.findByText('your membership of this workspace is deactivated')).toBeInTheDocument();
    expect(screen.queryByText('Live')).toBeNull();
    expect(onAccessEnded).toHaveBeenCalledOnce();
  });

  it('does not treat a dropped connection as lost access', async () => {
    const { onAccessEnded, fail } = setup();
    await screen.findByText('Live');
    fail(new ApiError('The live connection dropped; retrying.', 'NETWORK'));
    expect(await screen.findByText('The live connection dropped; retrying.')).toBeInTheDocument();
    expect(onAccessEnded).not.toHaveBeenCalled();
  });

  it('shows how often a folded entry happened and from which client', async () => {
    const entry = (id: string, occurrences: number, client: string | null) => ({
      id,
      at: '2026-12-07T10:00:00Z',
      actor: 'SSO unknown',
      action: 'sso.refused',
      summary: `SSO sign-in refused ${id}`,
      status: 403,
      succeeded: false,
      method: 'POST',
      path: 'saml/acs',
      occurrences,
      client,
    });
    const api = {
      request: vi.fn(async () => ({
        workspace: { activity: { nodes: [entry('a', 37, '203.0.113.7'), entry('b', 1, null)], totalCount: 2, pageInfo: { hasNextPage: false, endCursor: null } } },
      })),
      subscribe: () => () => {},
      close: () => {},
    } as unknown as Api;
    render(<ActivitySection api={api} version={0} onAccessEnded={vi.fn()} />);
    const folded = (await screen.findByText('SSO sign-in refused a')).closest('li')!;
    expect(folded).toHaveTextContent('×37 this minute');
    expect(folded).toHaveTextContent('from 203.0.113.7');
    const single = screen.getByText('SSO sign-in refused b').closest('li')!;
    expect(single).not.toHaveTextContent('×');
    expect(single).not.toHaveTextContent('from ');
  });
});
