import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen } from '@testing-library/react';
import { App } from './App';
import { SSO_ERROR_GENERIC, SSO_ERRORS, ssoErrorMessage } from './ssoError';

// Signed out: `me` answers UNAUTHENTICATED, so the sign-in screen shows with the ssoError, if any.
beforeEach(() => {
  localStorage.clear();
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => new Response(JSON.stringify({ data: null, errors: [{ message: 'sign in', extensions: { code: 'UNAUTHENTICATED' } }] }), { headers: { 'content-type': 'application/json' } })),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  window.history.replaceState(null, '', '/');
});

async function signInAlert(search: string): Promise<string | null> {
  window.history.replaceState(null, '', `/${search}`);
  render(<App />);
  await screen.findByRole('heading', { name: 'Sign in' });
  return screen.queryByRole('alert')?.textContent ?? null;
}

describe('ssoError', () => {
  it('shows the fixed wording of a known code', async () => {
    expect(await signInAlert('?ssoError=no_workspace')).toBe(SSO_ERRORS.no_workspace);
    cleanup();
    expect(await signInAlert('?ssoError=rate_limited')).toBe('Too many sign-in attempts from your network. Wait a minute and try again.');
  });

  it('never shows text from the address', async () => {
    const planted = [
      '<script>alert(1)</script>',
      'Your account is locked. Call +1 555 0100 to unlock it.',
      '<img src=x onerror=alert(1)>',
      '__proto__',
      'toString',
      '',
    ];
    for (const text of planted) {
      const alert = await signInAlert(`?ssoError=${encodeURIComponent(text)}`);
      expect(alert, text).toBe(SSO_ERROR_GENERIC);
      expect(document.body.innerHTML, text).not.toContain('555 0100');
      expect(document.querySelector('script, img'), text).toBeNull();
      cleanup();
    }
  });

  it('shows nothing without ssoError, and leaves the code out of the address', async () => {
    expect(await signInAlert('')).toBeNull();
    cleanup();
    await signInAlert('?ssoError=no_workspace&x=1');
    expect(window.location.search).toBe('?x=1');
  });

  it('maps codes without touching the prototype', () => {
    expect(ssoErrorMessage('?ssoError=constructor')).toBe(SSO_ERROR_GENERIC);
    expect(ssoErrorMessage('?other=1')).toBeNull();
  });
});
