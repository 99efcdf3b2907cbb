// Dates and warnings as people read them.

const DAY = 24 * 60 * 60 * 1000;

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleDateString('en-GB', { year: 'numeric', month: 'short', day: 'numeric' });
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString('en-GB', { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** "in 12 days", "3 days ago", "today". */
export function relative(iso: string, now: Date = new Date()): string {
  const days = Math.round((new Date(iso).getTime() - now.getTime()) / DAY);
  if (days === 0) return 'today';
  if (days > 0) return `in ${days} day${days === 1 ? '' : 's'}`;
  return `${-days} day${days === -1 ? '' : 's'} ago`;
}

/** "in 8 min", "2 h ago", "in 3 days", "just now": for times minutes or hours away. */
export function fromNow(iso: string, now: Date = new Date()): string {
  const ms = new Date(iso).getTime() - now.getTime();
  const abs = Math.abs(ms);
  const say = (n: number, unit: string) => (ms > 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`);
  if (abs < 45 * 1000) return ms > 0 ? 'in a moment' : 'just now';
  const minutes = Math.max(1, Math.round(abs / 60000));
  if (minutes < 60) return say(minutes, 'min');
  const hours = Math.round(abs / 3600000);
  if (hours < 36) return say(hours, 'h');
  const days = Math.round(abs / DAY);
  return say(days, days === 1 ? 'day' : 'days');
}

export type Expiry = { text: string; level: 'ok' | 'warn' | 'expired' | 'never' };

/** An expiry and how worried to be: warn within `warnDays`. */
export function expiry(iso: string | null | undefined, warnDays: number, now: Date = new Date()): Expiry {
  if (!iso) return { text: 'Never expires', level: 'never' };
  const ms = new Date(iso).getTime() - now.getTime();
  if (ms <= 0) return { text: `Expired ${formatDate(iso)}`, level: 'expired' };
  const level = ms <= warnDays * DAY ? 'warn' : 'ok';
  return { text: `${formatDate(iso)} (${relative(iso, now)})`, level };
}

export const roleLabel = (role: string) => role.charAt(0) + role.slice(1).toLowerCase();
