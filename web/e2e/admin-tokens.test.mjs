// Admin tokens on the settings page, in Debian's Chromium against the real gateway: a second
// token made with `admin-token --expires-in-days 3` is listed with whose it is and an expiry
// warning, the page's own token is marked, and revoking the second (after a confirmation) makes
// the gateway refuse it at once: the page Sam has open with it signs out, told by its live stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, launchBrowser, onlyOrigin, startGateway } from './gateway.mjs';

let gateway;
let context;
let page;
const errors = [];
let foreign;

async function workspaceWith(token) {
  const response = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ workspace { slug } }' }),
  });
  return response.json();
}

before(async () => {
  gateway = await startGateway();
  context = await launchBrowser();
  foreign = await onlyOrigin(context, gateway.url);
  page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
});

after(async () => {
  await context?.close();
  gateway?.stop();
});

test('an admin revokes another admin token from the page', async () => {
  const second = (
    await gateway.cli('admin-token', '--workspace', 'demo', '--email', 'sam@example.com', '--given-name', 'Sam', '--family-name', 'Second', '--expires-in-days', '3')
  ).trim();
  assert.match(second, /^sgat_/);
  assert.equal((await workspaceWith(second)).data?.workspace?.slug, 'demo');

  await page.goto(`${gateway.url}/#token=${gateway.token}`);
  const section = page.locator('#admin-tokens');
  await section.getByRole('heading', { name: 'Admin tokens' }).waitFor();
  // Sam has the page open with the second token, its activity live.
  const samPage = await context.newPage();
  samPage.on('pageerror', (e) => errors.push(String(e)));
  await samPage.goto(`${gateway.url}/#token=${second}`);
  await samPage.locator('#activity').getByText('Live').waitFor();
  const sam = section.getByRole('row', { name: /sam@example\.com/ });
  await sam.getByText('Sam Second').waitFor();
  await sam.getByText('Expires soon').waitFor();
  const own = section.getByRole('row', { name: /admin@example\.com/ });
  await own.getByText('This browser').waitFor();
  await section.getByText('2 active').waitFor();
  await section.screenshot({ path: join(artifacts, 'admin-tokens.png') });

  // Cancel first: nothing happens.
  const prefix = second.slice(0, 12);
  await section.getByRole('button', { name: `Revoke token ${prefix} of sam@example.com` }).click();
  const confirm = page.getByRole('dialog', { name: "Revoke sam@example.com's token?" });
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await workspaceWith(second)).data?.workspace?.slug, 'demo');

  await section.getByRole('button', { name: `Revoke token ${prefix} of sam@example.com` }).click();
  await confirm.getByRole('button', { name: 'Revoke token' }).click();
  await sam.getByText(/^Revoked/).waitFor();
  await section.getByText('1 active').waitFor();
  // Sam's page learns it from its live stream, which the gateway ends, and signs out.
  await samPage.getByText('That sign-in token is not valid (any more). Sign in again.').waitFor({ timeout: 10_000 });
  await samPage.close();
  const refused = await workspaceWith(second);
  assert.equal(refused.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', JSON.stringify(refused));
  // The revocation is in the activity.
  await page.locator('#activity').getByText(`admin token ${prefix}… of sam@example.com revoked`).waitFor({ timeout: 15_000 });
  // The page's own token still works.
  assert.equal((await workspaceWith(gateway.token)).data?.workspace?.slug, 'demo');

  assert.deepEqual(foreign, [], 'nothing is loaded from outside the gateway');
  assert.deepEqual(errors, [], 'no console errors');
});
