// The admin token of this browser: taken from a sign-in link (`/#token=...`), kept in
// localStorage, and removed from the address bar so it is not bookmarked or shared.
const KEY = 'scim-gateway.adminToken';

export function takeTokenFromLocation(): void {
  const match = window.location.hash.match(/[#&]token=([^&]+)/);
  if (!match) return;
  saveToken(decodeURIComponent(match[1]));
  history.replaceState(null, '', window.location.pathname + window.location.search);
}

export function saveToken(token: string): void {
  localStorage.setItem(KEY, token.trim());
}

export function storedToken(): string | null {
  return localStorage.getItem(KEY);
}

export function forgetToken(): void {
  localStorage.removeItem(KEY);
}
