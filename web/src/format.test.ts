import { describe, expect, it } from 'vitest';
import { expiry, fromNow, relative } from './format';

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

describe('fromNow', () => {
  const at = (ms: number) => new Date(now.getTime() + ms).toISOString();
  it('says minutes, hours and days, ahead and behind', () => {
    expect(fromNow(at(10_000), now)).toBe('in a moment');
    expect(fromNow(at(-10_000), now)).toBe('just now');
    expect(fromNow(at(8 * 60_000), now)).toBe('in 8 min');
    expect(fromNow(at(-2 * 3600_000), now)).toBe('2 h ago');
    expect(fromNow(at(3 * 86400_000), now)).toBe('in 3 days');
    expect(fromNow(at(-2 * 86400_000), now)).toBe('2 days ago');
  });
});
