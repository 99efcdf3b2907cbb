import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MappingSection } from './MappingSection';
import type { Api } from '../graphql';
import { PREVIEW_MAPPINGS, SAVE_MAPPINGS } from '../queries';

afterEach(cleanup);

function setup(request: Api['request']) {
  const api = { request, subscribe: () => () => {}, close: () => {} } as unknown as Api;
  const onChanged = vi.fn(async () => {});
  render(
    <MappingSection
      api={api}
      saved={[{ groupName: 'QA', role: 'REVIEWER' }]}
      groups={[
        { id: 'g1', displayName: 'QA', memberCount: 2, mappedRole: 'REVIEWER' },
        { id: 'g2', displayName: 'Administrator', memberCount: 1, mappedRole: null },
      ]}
      onChanged={onChanged}
    />,
  );
  return { onChanged };
}

describe('MappingSection', () => {
  it('shows duplicate names inline and blocks saving', async () => {
    const request = vi.fn();
    setup(request as unknown as Api['request']);
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Add row' }));
    await user.type(screen.getByLabelText('Group name, row 2'), ' qa');
    expect(screen.getByRole('alert')).toHaveTextContent('Already mapped in row 1.');
    expect(screen.getByRole('button', { name: 'Save mapping' })).toBeDisabled();
    expect(screen.getByRole('button', { name: 'Preview changes' })).toBeDisabled();
    expect(request).not.toHaveBeenCalled();
  });

  it('lists unmapped pushed groups, previews the effect, then saves the whole table', async () => {
    const request = vi.fn(async (doc: unknown, variables: unknown) => {
      const vars = variables as { mappings: { groupName: string; role: string }[] };
      if (doc === PREVIEW_MAPPINGS) {
        return { previewGroupRoleMappings: [{ memberId: 'm1', userName: 'jane@x.org', active: true, from: 'LABELER', to: 'ADMIN', groupName: 'Administrator', reason: 'via group Administrator' }] };
      }
      expect(doc).toBe(SAVE_MAPPINGS);
      return { setGroupRoleMappings: { mappings: vars.mappings, changes: [{ userName: 'jane@x.org', from: 'LABELER', to: 'ADMIN', reason: 'via group Administrator' }] } };
    });
    const { onChanged } = setup(request as unknown as Api['request']);
    const user = userEvent.setup();
    const unmapped = screen.getByRole('heading', { name: 'Pushed groups without a role' }).parentElement!;
    await user.click(within(unmapped).getByRole('button', { name: 'Map Administrator' }));
    await user.selectOptions(screen.getByLabelText('Role, row 2'), 'ADMIN');
    await user.click(screen.getByRole('button', { name: 'Preview changes' }));
    expect(await screen.findByText('jane@x.org')).toBeInTheDocument();
    expect(screen.getByText(/via group Administrator/)).toBeInTheDocument();
    expect(request.mock.calls[0][1]).toEqual({ mappings: [{ groupName: 'QA', role: 'REVIEWER' }, { groupName: 'Administrator', role: 'ADMIN' }] });
    await user.click(screen.getByRole('button', { name: 'Save mapping' }));
    expect(await screen.findByText('Saved. 1 member changed role.')).toBeInTheDocument();
    // One save, of the whole table: the saved row and the new one, in the order shown.
    expect(request).toHaveBeenCalledTimes(2);
    expect(request.mock.calls[1][0]).toBe(SAVE_MAPPINGS);
    expect(request.mock.calls[1][1]).toEqual({ mappings: [{ groupName: 'QA', role: 'REVIEWER' }, { groupName: 'Administrator', role: 'ADMIN' }] });
    expect(onChanged).toHaveBeenCalledOnce();
  });
});
