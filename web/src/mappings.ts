// The group-to-role table as the admin edits it, and its validation (mirrors the server's rules,
// which stay authoritative).

export type Role = 'ADMIN' | 'REVIEWER' | 'LABELER';
export const ROLES: Role[] = ['ADMIN', 'REVIEWER', 'LABELER'];

export type Row = { key: number; groupName: string; role: Role };

/** Group names match case-insensitively after trimming, as the server matches them. */
export const groupKey = (name: string) => name.trim().toLowerCase();

/** An error message per row key; empty when the table can be saved. */
export function validate(rows: Row[]): Map<number, string> {
  const errors = new Map<number, string>();
  const seen = new Map<string, number>();
  rows.forEach((row, index) => {
    const key = groupKey(row.groupName);
    if (!key) {
      errors.set(row.key, 'Enter the group name as your IdP sends it.');
      return;
    }
    const first = seen.get(key);
    if (first !== undefined) {
      errors.set(row.key, `Already mapped in row ${first + 1}.`);
      return;
    }
    seen.set(key, index);
  });
  return errors;
}

/** Whether the edited table differs from the saved one. */
export function changed(saved: { groupName: string; role: Role }[], rows: Row[]): boolean {
  if (saved.length !== rows.length) return true;
  return saved.some((s, i) => s.groupName !== rows[i].groupName.trim() || s.role !== rows[i].role);
}
