// The settings page end to end, in Debian's Chromium against the real gateway on a fresh database:
// sign in by link, configure SAML, enable SCIM, generate a key and use it for real SCIM requests,
// watch them arrive in the activity live, edit and preview the mapping, see a member's role change
// after a group push, revoke the key and see SCIM refused. Screenshots go to test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifacts, launchBrowser, onlyOrigin, startGateway } from './gateway.mjs';

let gateway;
let context;
let page;
const errors = [];
let foreign;

function certificatePem() {
  const dir = mkdtempSync(join(tmpdir(), 'scimgw-cert-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '365', '-subj', '/CN=e2e IdP'], { stdio: 'ignore' });
  return readFileSync(join(dir, 'c.pem'), 'utf8');
}

async function scim(base, key, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/scim+json', 'user-agent': 'Okta SCIM Client 1.0.0' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function shot(name, locator) {
  await (locator ?? page).screenshot({ path: join(artifacts, `${name}.png`), ...(locator ? {} : { fullPage: true }) });
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

test('an admin sets up provisioning from the page', async () => {
  // Sign in by link; the token leaves the address bar.
  await page.goto(`${gateway.url}/#token=${gateway.token}`);
  await page.getByRole('heading', { name: 'SAML & SCIM' }).waitFor();
  assert.equal(new URL(page.url()).hash, '');
  await page.getByText('Demo workspace').first().waitFor();

  // SCIM can't be switched on before SAML, and says why.
  const toggle = page.getByRole('switch');
  assert.equal(await toggle.isDisabled(), true);
  await page.getByText('SCIM needs SAML single sign-on first').waitFor();

  // SAML from the three fields: a bad URL is reported next to its field, then fixed.
  const saml = page.locator('#saml');
  // What the IdP needs is there before SAML is configured: this gateway's own SP URLs, and the
  // metadata at the entity ID names the same ACS.
  const acs = await saml.getByLabel('ACS URL (Okta: Single sign-on URL; Entra: Reply URL)').inputValue();
  const entityId = await saml.getByLabel('SP entity ID (Okta: Audience URI; Entra: Identifier)').inputValue();
  assert.match(acs, new RegExp(`^${gateway.url}/api/teams/[0-9a-f-]+/saml/acs$`));
  assert.equal(entityId, acs.replace(/acs$/, 'metadata'));
  const metadata = await (await fetch(entityId)).text();
  assert.ok(metadata.includes(`Location="${acs}"`), metadata);
  await saml.getByLabel('Entity ID, SSO URL and certificate').check();
  await saml.getByLabel('IdP entity ID (issuer)').fill('http://www.okta.com/exk-e2e');
  await saml.getByLabel('SSO URL', { exact: true }).fill('ftp://example.okta.com/sso');
  await saml.getByLabel('Signing certificate (PEM)').fill(certificatePem());
  await saml.getByRole('button', { name: 'Save SAML configuration' }).click();
  await saml.getByText('the SSO URL must use https').waitFor();
  await shot('saml-error', saml);
  await saml.getByLabel('SSO URL', { exact: true }).fill('https://example.okta.com/app/e2e/sso/saml');
  await saml.getByRole('button', { name: 'Save SAML configuration' }).click();
  await saml.getByText('Configured', { exact: true }).waitFor();
  await saml.getByText('CN=e2e IdP').waitFor();
  await shot('saml', saml);

  // SCIM on; the base URL is where the gateway listens.
  await toggle.click();
  await page.waitForFunction(() => document.querySelector('[role=switch]')?.getAttribute('aria-checked') === 'true');
  const baseUrl = await page.locator('#scim').getByLabel('SCIM base URL').inputValue();
  assert.match(baseUrl, new RegExp(`^${gateway.url}/api/teams/[0-9a-f-]+/scim/v2$`));
  await page.locator('#scim').getByRole('tab', { name: 'Microsoft Entra ID' }).click();
  await page.locator('#scim').getByText('Tenant URL').waitFor();
  await shot('scim', page.locator('#scim'));

  // A key that never expires; the secret is shown once.
  const keys = page.locator('#keys');
  await keys.getByLabel('Key name').fill('Okta e2e');
  await keys.getByLabel('Expires').selectOption('never');
  await keys.getByRole('button', { name: 'Generate key' }).click();
  const dialog = page.getByRole('dialog', { name: 'Key "Okta e2e" generated' });
  await dialog.waitFor();
  await dialog.getByText('this is the only time it is shown').waitFor();
  const secret = await dialog.getByLabel('API key').inputValue();
  assert.match(secret, /^scim_/);
  await shot('key-dialog', dialog);
  await dialog.getByRole('button', { name: 'I have copied it' }).click();
  await keys.getByRole('cell', { name: 'Never expires' }).waitFor();

  // A real SCIM request with that key shows up in the activity without a reload.
  const created = await scim(baseUrl, secret, 'POST', '/Users', { userName: 'jane@e2e.test', name: { givenName: 'Jane', familyName: 'Doe' }, active: true });
  assert.equal(created.status, 201);
  const activity = page.locator('#activity');
  await activity.getByText('added jane@e2e.test as Labeler').waitFor({ timeout: 15_000 });
  const failed = await scim(baseUrl, secret, 'GET', '/Users?filter=userName%20zz%20x');
  assert.equal(failed.status, 400);
  await activity.locator('li.failed').first().waitFor({ timeout: 15_000 });
  await shot('activity', activity);

  // The member appears; the key shows it was used by Okta.
  const members = page.locator('#members');
  await members.getByRole('cell', { name: 'jane@e2e.test' }).waitFor({ timeout: 15_000 });
  await page.reload();
  await keys.getByText(/by Okta/).waitFor();

  // Edit the mapping: a duplicate is refused inline, then preview and save.
  const mapping = page.locator('#mapping');
  await mapping.getByRole('button', { name: 'Add row' }).click();
  await mapping.getByLabel('Group name, row 1').fill('QA');
  await mapping.getByLabel('Role, row 1').selectOption('REVIEWER');
  await mapping.getByRole('button', { name: 'Add row' }).click();
  await mapping.getByLabel('Group name, row 2').fill(' qa ');
  await mapping.getByText('Already mapped in row 1.').waitFor();
  assert.equal(await mapping.getByRole('button', { name: 'Save mapping' }).isDisabled(), true);
  await mapping.getByLabel('Group name, row 2').fill('Administrator');
  await mapping.getByLabel('Role, row 2').selectOption('ADMIN');
  await mapping.getByRole('button', { name: 'Preview changes' }).click();
  await mapping.getByText("No member's role changes.").waitFor();
  await mapping.getByRole('button', { name: 'Save mapping' }).click();
  await mapping.getByText('Saved. No role changed.').waitFor();
  await shot('mapping', mapping);

  // The IdP pushes QA with jane: her role changes, live.
  const jane = created.body.id;
  const group = await scim(baseUrl, secret, 'POST', '/Groups', { displayName: 'QA', members: [{ value: jane }] });
  assert.equal(group.status, 201);
  const janeRow = members.getByRole('row', { name: /jane@e2e\.test/ });
  await janeRow.getByText('Reviewer').waitFor({ timeout: 15_000 });
  await janeRow.getByText('group QA').waitFor();
  await shot('members', members);

  // An unmapped pushed group is offered for mapping; the preview names whose role changes.
  const other = await scim(baseUrl, secret, 'POST', '/Groups', { displayName: 'Leads', members: [{ value: jane }] });
  assert.equal(other.status, 201);
  await page.reload();
  await mapping.getByRole('button', { name: 'Map Leads' }).click();
  await mapping.getByLabel('Role, row 3').selectOption('ADMIN');
  await mapping.getByRole('button', { name: 'Preview changes' }).click();
  await mapping.getByText(/Reviewer → Admin/).waitFor();
  await mapping.getByText('via group Leads').waitFor();
  await shot('mapping-preview', mapping);

  // Revoke the key: the IdP is refused.
  await keys.getByRole('button', { name: 'Revoke Okta e2e' }).click();
  const confirm = page.getByRole('dialog', { name: 'Revoke "Okta e2e"?' });
  await confirm.getByRole('button', { name: 'Revoke key' }).click();
  await keys.getByText(/Revoked/).waitFor();
  const refused = await scim(baseUrl, secret, 'GET', '/Users');
  assert.equal(refused.status, 401);
  assert.equal(refused.body.status, '401');
  await shot('keys', keys);

  await shot('page-1280');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await page.getByRole('heading', { name: 'SAML & SCIM' }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  const wide = await page.evaluate(() =>
    [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
      .slice(0, 8)
      .map((e) => `${e.tagName.toLowerCase()}.${e.className}#${e.closest('section')?.id}:${Math.round(e.getBoundingClientRect().right)}`),
  );
  assert.ok(overflow <= 1, `the page scrolls sideways on a 390 px screen by ${overflow}px: ${wide.join(', ')}`);
  await shot('page-390');

  assert.deepEqual(foreign, [], 'nothing is loaded from outside the gateway');
  assert.deepEqual(errors, [], 'no console errors');
});
