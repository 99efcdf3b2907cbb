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
