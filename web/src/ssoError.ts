// Why single sign-on did not complete, as the gateway says it: `/?ssoError=<code>`. Only these
// fixed sentences are ever shown; the address carries a code, never words, so a link made by
// someone else can't put its own text on this page as if the gateway had said it.

export const SSO_ERRORS: Readonly<Record<string, string>> = Object.freeze({
  no_workspace:
    "No workspace with single sign-on was found for what you entered. Enter your workspace's name as in its address, or ask your admin.",
  rate_limited: 'Too many sign-in attempts from your network. Wait a minute and try again.',
});

/** What the page says for a code it doesn't know (or an empty one). */
export const SSO_ERROR_GENERIC = 'Single sign-on did not complete.';

/** The sentence for `?ssoError=<code>`; null when the address has none. */
export function ssoErrorMessage(search: string): string | null {
  const code = new URLSearchParams(search).get('ssoError');
  if (code === null) return null;
  return Object.hasOwn(SSO_ERRORS, code) ? SSO_ERRORS[code] : SSO_ERROR_GENERIC;
}

/** Removes `ssoError` from the address bar (a reload or a shared link doesn't repeat it). */
export function forgetSsoError(): void {
  const url = new URL(window.location.href);
  if (!url.searchParams.has('ssoError')) return;
  url.searchParams.delete('ssoError');
  history.replaceState(null, '', url.pathname + url.search + url.hash);
}
