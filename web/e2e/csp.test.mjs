// Every HTML page the gateway serves carries a strict Content-Security-Policy and the other
// browser-side headers, and runs under it without a single violation: the settings page (signed
// in, live activity over WebSocket, a dialog), the GraphQL playground (a query run, the docs
// explorer), an SSO error page, and the sign-in screen with a planted `?ssoError=`. A page of
// another site can't frame the gateway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, onlyOrigin, startGateway } from './gateway.mjs';

let gateway;
let context;
let foreign;

before(async () => {
  gateway = await startGateway();
  context = await launchBrowser();
  foreign = await onlyOrigin(context, gateway.url);
  // Every violation is an event on the document; record them before any page script runs.
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
});

after(async () => {
  await context?.close();
  gateway?.stop();
});

/// A page that records console errors, CSP reports in the console, uncaught errors and dialogs.
async function watchedPage() {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e}`));
  page.on('console', (m) => {
    // A page answered with an error status (the SSO error page's 404) is logged as a failed load
    // of the document itself: that is the page under test, not a problem on it.
    if (/^Failed to load resource/.test(m.text()) && m.location().url === page.url()) return;
    if (m.type() === 'error' || /Refused to|Content Security Policy/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    problems.push(`a script opened a dialog: ${d.message()}`);
    void d.dismiss();
  });
  return { page, problems };
}

/// The document's response has the policy and the other headers.
function assertHeaders(response, what) {
  const headers = response.headers();
  const csp = headers['content-security-policy'] ?? '';
  for (const directive of ["script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "default-src 'none'"]) {
    assert.ok(csp.includes(directive), `${what}: the policy lacks ${directive}: ${csp}`);
  }
  assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), `${what}: ${csp}`);
  assert.equal(headers['x-frame-options'], 'DENY', what);
  assert.equal(headers['x-content-type-options'], 'nosniff', what);
  assert.equal(headers['referrer-policy'], 'no-referrer', what);
}

async function assertNoViolation(page, problems, what) {
  // Reports are dispatched as tasks: give the last ones a moment.
  await page.waitForTimeout(300);
  const violations = await page.evaluate(() => window.__cspViolations);
  assert.deepEqual(violations, [], `${what}: CSP violations`);
  assert.deepEqual(problems, [], `${what}: console errors`);
}

test('the sign-in screen shows a fixed sentence for a planted ssoError, under the policy', async () => {
  const { page, problems } = await watchedPage();
  const planted = '<script>alert(1)</script><img src=x onerror=alert(2)>Your account is locked: call +1 555 0100';
  const response = await page.goto(`${gateway.url}/?ssoError=${encodeURIComponent(planted)}`);
  assertHeaders(response, 'sign-in');
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  const alert = page.getByRole('alert');
  assert.equal(await alert.innerText(), 'Single sign-on did not complete.');
  const body = await page.locator('body').innerText();
  assert.ok(!body.includes('555 0100') && !body.includes('<script>'), body);
  assert.equal(new URL(page.url()).search, '', 'the code leaves the address bar');
  await assertNoViolation(page, problems, 'sign-in');
  await page.close();
});

test('the settings page runs under the policy', async () => {
  const { page, problems } = await watchedPage();
  const response = await page.goto(`${gateway.url}/#token=${gateway.token}`);
  assertHeaders(response, 'settings');
  await page.getByRole('heading', { name: 'SAML & SCIM' }).waitFor();
  await page.getByText('Demo workspace').first().waitFor();
  // The live activity arrives over the WebSocket (connect-src): a settings change shows up.
  const saml = page.locator('#saml');
  await saml.getByLabel('Entity ID, SSO URL and certificate').check();
  await saml.getByLabel('IdP entity ID (issuer)').fill('http://www.okta.com/exk-csp');
  await saml.getByLabel('SSO URL', { exact: true }).fill('ftp://bad');
  await saml.getByRole('button', { name: 'Save SAML configuration' }).click();
  await saml.getByText('the SSO URL must use https').waitFor();
  // A dialog.
  const keys = page.locator('#keys');
  await keys.getByLabel('Key name').fill('CSP');
  await keys.getByRole('button', { name: 'Generate key' }).click();
  const dialog = page.getByRole('dialog', { name: 'Key "CSP" generated' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'I have copied it' }).click();
  await page.locator('#activity').getByText(/API key "CSP"/).waitFor({ timeout: 15_000 });
  await assertNoViolation(page, problems, 'settings');
  await page.close();
});

test('the playground runs under the policy', async () => {
  const { page, problems } = await watchedPage();
  const introspected = page.waitForResponse((r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('IntrospectionQuery'));
  const response = await page.goto(`${gateway.url}/graphql/playground#token=${gateway.token}`);
  assertHeaders(response, 'playground');
  assert.match(response.headers()['content-security-policy'], /style-src [^;]*'nonce-[A-Za-z0-9_-]{22}'/);
  assert.equal(response.headers()['cache-control'], 'no-store');
  assert.equal((await introspected).status(), 200);
  await page.locator('.result-window .CodeMirror').waitFor({ timeout: 20_000 });
  await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: 20_000 });
  await page.getByRole('button', { name: /execute query/i }).click();
  await page.locator('.result-window').getByText('"slug": "demo"').waitFor({ timeout: 20_000 });
  // The docs explorer and the settings dialog (GraphiQL's own UI).
  await page.getByRole('button', { name: /show documentation explorer/i }).click();
  await page.getByText('Root Types').waitFor({ timeout: 10_000 });
  await page.getByRole('button', { name: /open settings dialog/i }).click();
  await page.getByRole('dialog').waitFor();
  await page.keyboard.press('Escape');
  await assertNoViolation(page, problems, 'playground');
  await page.close();
});

test('an SSO error page runs under the policy', async () => {
  const { page, problems } = await watchedPage();
  const response = await page.goto(`${gateway.url}/api/teams/00000000-0000-4000-8000-000000000000/saml/login`);
  assert.equal(response.status(), 404);
  assertHeaders(response, 'SSO error page');
  await page.getByRole('heading', { name: 'Not found' }).waitFor();
  // Its one inline style is allowed (by hash), not dropped.
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).maxWidth), '640px');
  await assertNoViolation(page, problems, 'SSO error page');
  await page.close();
});

test('another site cannot frame the gateway', async () => {
  const page = await context.newPage();
  const refused = [];
  page.on('console', (m) => refused.push(m.text()));
  await page.setContent(`<iframe id="f" src="${gateway.url}/" width="600" height="400"></iframe>`);
  await page.waitForTimeout(1500);
  const frame = page.frames().find((f) => f !== page.mainFrame());
  const framed = frame ? await frame.evaluate(() => document.body?.innerText ?? '').catch(() => '') : '';
  assert.ok(!framed.includes('Sign in'), `the gateway rendered inside another page: ${framed}`);
  assert.ok(refused.some((t) => /frame-ancestors|Refused to display/.test(t)), `no refusal reported: ${refused}`);
  await page.close();
  assert.deepEqual(foreign, [], 'nothing is loaded from outside the gateway');
});
