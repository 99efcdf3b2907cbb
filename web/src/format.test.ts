import { describe, expect, it } from 'vitest';
import { expiry, relative } from './format';

const now = new Date('2026-06-01T12:00:00Z');
const inDays = (d: number) => new Date(now.getTime() + d * 86400000).toISOString();

describe('expiry', () => {
  it('says never for keys without expiry', () => {
    expect(expiry(null, 14, now)).toEqual({ text: 'Never expires', level: 'never' });
  });
  it('warns inside the window and not outside it', () => {
    expect(expiry(inDays(10), 14, now).level).toBe('warn');
    expect(expiry(inDays(20), 14, now).level).toBe('ok');
    expect(expiry(inDays(20), 30, now).level).toBe('warn');
  });
  it('marks past dates expired', () => {
    expect(expiry(inDays(-1), 14, now).level).toBe('expired');
  });
});

describe('relative', () => {
  it('reads naturally', () => {
    expect(relative(inDays(0), now)).toBe('today');
    expect(relative(inDays(1), now)).toBe('in 1 day');
    expect(relative(inDays(-3), now)).toBe('3 days ago');
  });
});
