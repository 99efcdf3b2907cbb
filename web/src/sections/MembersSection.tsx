import { useEffect, useState } from 'react';
import type { Api, ResultOf } from '../graphql';
import { MEMBERS } from '../queries';
import { roleLabel } from '../format';
import { Badge, ErrorNote, Loading, Section } from '../ui';

type Page = ResultOf<typeof MEMBERS>['workspace']['members'];
type Source = Page['nodes'][number]['roleSources'][number];
const PAGE = 25;

function describe(source: Source | undefined): string {
  switch (source?.kind) {
    case 'GROUP':
      return `group ${source.groupName}`;
    case 'DIRECT':
      return 'set by the IdP';
    case 'OWNER':
      return 'workspace owner';
    default:
      return 'default';
  }
}

export function MembersSection({ api, version }: { api: Api; version: number }) {
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  // Cursors of the pages before the current one.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const t = setTimeout(() => {
      setQuery(search);
      setCursors([null]);
    }, 250);
    return () => clearTimeout(t);
  }, [search]);

  const after = cursors[cursors.length - 1];
  useEffect(() => {
    let live = true;
    api
      .request(MEMBERS, { first: PAGE, after, search: query || null })
      .then((d) => live && (setPage(d.workspace.members), setError(null)))
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [api, after, query, version]);

  return (
    <Section id="members" title="Members" status={page && <Badge tone="muted">{page.totalCount}</Badge>}>
      <div className="field">
        <label htmlFor="member-search">Search members</label>
        <input id="member-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="Name or e-mail" />
      </div>
      <ErrorNote error={error} />
      {!page && !error && <Loading what="members" />}
      {page && (
        <>
          <div className="table-wrap">
            <table>
              <caption className="sr-only">Members</caption>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Because of</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {page.nodes.length === 0 && (
                  <tr>
                    <td colSpan={5} className="muted">
                      No members match.
                    </td>
                  </tr>
                )}
                {page.nodes.map((m) => (
                  <tr key={m.id} className={m.active ? undefined : 'dim'}>
                    <td>{m.userName}</td>
                    <td>{[m.givenName, m.familyName].filter(Boolean).join(' ') || '—'}</td>
                    <td>
                      <strong>{roleLabel(m.role)}</strong>
                    </td>
                    <td>{describe(m.roleSources[0])}</td>
                    <td>{m.active ? <Badge tone="ok">Active</Badge> : <Badge tone="muted">Deactivated</Badge>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="actions pager">
            <button type="button" className="secondary" disabled={cursors.length === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
              Previous
            </button>
            <button type="button" className="secondary" disabled={!page.pageInfo.hasNextPage} onClick={() => setCursors((c) => [...c, page.pageInfo.endCursor])}>
              Next
            </button>
          </div>
        </>
      )}
    </Section>
  );
}
