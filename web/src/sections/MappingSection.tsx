import { useEffect, useMemo, useState } from 'react';
import type { Api, ResultOf } from '../graphql';
import { PREVIEW_MAPPINGS, SAVE_MAPPINGS } from '../queries';
import type { Settings } from '../App';
import { roleLabel } from '../format';
import { ROLES, changed, groupKey, validate, type Role, type Row } from '../mappings';
import { Badge, ErrorNote, Section } from '../ui';

type Preview = ResultOf<typeof PREVIEW_MAPPINGS>['previewGroupRoleMappings'];

let nextKey = 1;
const toRows = (saved: Settings['groupRoleMappings']): Row[] => saved.map((m) => ({ key: nextKey++, groupName: m.groupName, role: m.role as Role }));

export function MappingSection({
  api,
  saved,
  groups,
  onChanged,
}: {
  api: Api;
  saved: Settings['groupRoleMappings'];
  groups: Settings['groups']['nodes'];
  onChanged: () => Promise<void>;
}) {
  const [rows, setRows] = useState<Row[]>(() => toRows(saved));
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => setRows(toRows(saved)), [saved]);

  const errors = useMemo(() => validate(rows), [rows]);
  const dirty = changed(saved as { groupName: string; role: Role }[], rows);
  const mappedKeys = new Set(rows.map((r) => groupKey(r.groupName)));
  const unmapped = groups.filter((g) => !mappedKeys.has(groupKey(g.displayName)));
  const input = rows.map((r) => ({ groupName: r.groupName.trim(), role: r.role }));

  function edit(key: number, patch: Partial<Row>) {
    setRows((rs) => rs.map((r) => (r.key === key ? { ...r, ...patch } : r)));
    setPreview(null);
    setMessage(null);
  }

  async function runPreview() {
    setBusy(true);
    setError(null);
    try {
      const data = await api.request(PREVIEW_MAPPINGS, { mappings: input });
      setPreview(data.previewGroupRoleMappings);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  async function save() {
    setBusy(true);
    setError(null);
    try {
      const data = await api.request(SAVE_MAPPINGS, { mappings: input });
      const n = data.setGroupRoleMappings.changes.length;
      setPreview(null);
      setMessage(`Saved. ${n === 0 ? 'No role changed.' : `${n} member${n === 1 ? '' : 's'} changed role.`}`);
      await onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section id="mapping" title="Group → role mapping" status={<Badge tone="muted">{saved.length} rows</Badge>}>
      <p className="muted">
        A member gets the <strong>highest</strong> role of all their mapped groups (Admin &gt; Reviewer &gt; Labeler), or the role the IdP sets directly, or Labeler.
      </p>
      <div className="table-wrap">
        <table className="mapping">
          <caption className="sr-only">Group to role mapping</caption>
          <thead>
            <tr>
              <th scope="col">IdP group name</th>
              <th scope="col">Role</th>
              <th scope="col">
                <span className="sr-only">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row, i) => {
              const err = errors.get(row.key);
              return (
                <tr key={row.key}>
                  <td>
                    <input
                      aria-label={`Group name, row ${i + 1}`}
                      value={row.groupName}
                      aria-invalid={!!err}
                      aria-describedby={err ? `map-err-${row.key}` : undefined}
                      onChange={(e) => edit(row.key, { groupName: e.target.value })}
                      placeholder="Administrator"
                    />
                    {err && (
                      <p id={`map-err-${row.key}`} className="field-error" role="alert">
                        {err}
                      </p>
                    )}
                  </td>
                  <td>
                    <select aria-label={`Role, row ${i + 1}`} value={row.role} onChange={(e) => edit(row.key, { role: e.target.value as Role })}>
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {roleLabel(r)}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <button
                      type="button"
                      className="secondary small"
                      aria-label={`Remove row ${i + 1}`}
                      onClick={() => {
                        setRows((rs) => rs.filter((r) => r.key !== row.key));
                        setPreview(null);
                      }}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <div className="actions">
        <button type="button" className="secondary" onClick={() => setRows((rs) => [...rs, { key: nextKey++, groupName: '', role: 'LABELER' }])}>
          Add row
        </button>
        <button type="button" className="secondary" disabled={busy || errors.size > 0 || !dirty} onClick={runPreview}>
          Preview changes
        </button>
        <button type="button" disabled={busy || errors.size > 0 || !dirty} onClick={save}>
          Save mapping
        </button>
        {dirty && (
          <button type="button" className="link" onClick={() => { setRows(toRows(saved)); setPreview(null); }}>
            Discard edits
          </button>
        )}
      </div>
      {message && (
        <p className="success" role="status">
          {message}
        </p>
      )}
      <ErrorNote error={error} />
      {preview && (
        <div className="preview" aria-live="polite">
          <h3>What saving would change</h3>
          {preview.length === 0 ? (
            <p className="muted">No member's role changes.</p>
          ) : (
            <ul>
              {preview.map((c) => (
                <li key={c.memberId}>
                  <strong>{c.userName}</strong>
                  {!c.active && <span className="muted"> (deactivated)</span>}: {roleLabel(c.from)} → <strong>{roleLabel(c.to)}</strong> <span className="muted">{c.reason}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {unmapped.length > 0 && (
        <div className="unmapped">
          <h3>Pushed groups without a role</h3>
          <ul>
            {unmapped.map((g) => (
              <li key={g.id}>
                {g.displayName} <span className="muted">({g.memberCount} member{g.memberCount === 1 ? "" : "s"})</span>{' '}
                <button type="button" className="secondary small" onClick={() => setRows((rs) => [...rs, { key: nextKey++, groupName: g.displayName, role: 'LABELER' }])} aria-label={`Map ${g.displayName}`}>
                  Map
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </Section>
  );
}
