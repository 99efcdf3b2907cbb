import { describe, expect, it } from 'vitest';
import { changed, validate, type Row } from './mappings';

const row = (key: number, groupName: string, role: Row['role'] = 'LABELER'): Row => ({ key, groupName, role });

describe('validate', () => {
  it('accepts distinct, non-empty names', () => {
    expect(validate([row(1, 'Administrator', 'ADMIN'), row(2, 'QA', 'REVIEWER')]).size).toBe(0);
  });

  it('flags empty names', () => {
    const errors = validate([row(1, '   ')]);
    expect(errors.get(1)).toMatch(/Enter the group name/);
  });

  it('flags duplicates case-insensitively after trimming, on the later row', () => {
    const errors = validate([row(1, 'Admins'), row(2, 'QA'), row(3, ' admins ')]);
    expect(errors.has(1)).toBe(false);
    expect(errors.get(3)).toBe('Already mapped in row 1.');
  });
});

describe('changed', () => {
  it('sees edits, additions and removals but not surrounding spaces', () => {
    const saved = [{ groupName: 'QA', role: 'REVIEWER' as const }];
    expect(changed(saved, [row(1, ' QA ', 'REVIEWER')])).toBe(false);
    expect(changed(saved, [row(1, 'QA', 'ADMIN')])).toBe(true);
    expect(changed(saved, [])).toBe(true);
  });
});
