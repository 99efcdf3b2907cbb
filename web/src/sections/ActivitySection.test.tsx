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
});
