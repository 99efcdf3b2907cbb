// Claimed domains end to end, in Debian's Chromium against the real gateway, whose TXT lookups go
// to a DNS server started here (dns.mjs) with background rounds every second. An admin claims
// acme-e2e.test on the page, reads the record to publish from it, presses Check now before
// publishing and is told why it is still pending; once the record is published, Check now
// verifies it. A second claim, published without touching the page, turns verified on screen by
// the background check and the page's polling, with no reload. The SAML section names the
// verified domains throughout; removing one (after a warning) takes it off.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, launchBrowser, onlyOrigin, startGateway } from './gateway.mjs';
import { startDns } from './dns.mjs';

let dns;
let gateway;
let context;
let page;
const errors = [];
let foreign;

async function shot(name, locator) {
  await (locator ?? page).screenshot({ path: join(artifacts, `${name}.png`), ...(locator ? {} : { fullPage: true }) });
}

before(async () => {
  dns = await startDns();
  gateway = await startGateway({ args: ['--dns-server', `127.0.0.1:${dns.port}`, '--domain-check-secs', '1'] });
  context = await launchBrowser();
  foreign = await onlyOrigin(context, gateway.url);
  page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
});

after(async () => {
  await context?.close();
  gateway?.stop();
  dns?.stop();
});

test('an admin proves a domain by DNS and SAML signs in its people', async () => {
  await page.goto(`${gateway.url}/#token=${gateway.token}`);
  await page.getByRole('heading', { name: 'SAML & SCIM' }).waitFor();
  const domains = page.locator('#domains');
  const saml = page.locator('#saml');
  const claim = (name) => domains.getByRole('listitem', { name, exact: true });

  // The demo workspace starts with example.com, vouched for by the operator: no record to publish.
  await claim('example.com').getByText('Verified by the operator').waitFor();
  assert.equal(await claim('example.com').getByLabel('TXT record name').count(), 0);
  assert.equal(await claim('example.com').getByRole('button', { name: /Check now/ }).count(), 0);
  assert.match(await saml.locator('#saml-domains').textContent(), /^Signs in people of: example\.com\b/);
  // The Domains section comes before SAML.
  const order = await page.evaluate(() => [...document.querySelectorAll('main > section')].map((s) => s.id));
  assert.deepEqual(order.slice(0, 2), ['domains', 'saml']);

  // A consumer mail domain is refused, with the gateway's reason next to the field.
  const field = domains.getByLabel('Domain', { exact: true });
  await field.fill('gmail.com');
  await domains.getByRole('button', { name: 'Add domain' }).click();
  const refusal = domains.locator('.field-error');
  await refusal.waitFor();
  assert.match(await refusal.textContent(), /^gmail\.com is a consumer mail domain/);
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  await shot('domains-refused', domains);

  // Claim acme-e2e.test: pending, with the record to publish.
  await field.fill('acme-e2e.test');
  await domains.getByRole('button', { name: 'Add domain' }).click();
  const acme = claim('acme-e2e.test');
  await acme.getByRole('status').getByText('Pending').waitFor();
  const name = await acme.getByLabel('TXT record name').inputValue();
  const value = await acme.getByLabel('TXT record value').inputValue();
  assert.equal(name, '_scim-gateway.acme-e2e.test');
  assert.match(value, /^scim-gateway-verification=[0-9a-f]{40}$/);
  assert.equal(await field.inputValue(), '', 'the field is cleared');

  // Check now before publishing: looked up at this DNS server, the reason shown, still pending.
  await acme.getByRole('button', { name: 'Check now for acme-e2e.test' }).click();
  await acme.getByText('no TXT record at _scim-gateway.acme-e2e.test').waitFor();
  assert.match(await acme.getByRole('status').textContent(), /^Pending/);
  assert.ok(dns.queries.some((q) => q.name === name && q.type === 16), JSON.stringify(dns.queries));
  assert.match(await saml.locator('#saml-domains').textContent(), /^Signs in people of: example\.com Manage domains$/, 'not signed in while pending');
  await shot('domains-pending', acme);

  // Published (beside an unrelated record): Check now verifies it, and SAML signs its people in.
  dns.records.set(name, ['v=spf1 -all', value]);
  await acme.getByRole('button', { name: 'Check now for acme-e2e.test' }).click();
  await acme.getByRole('status').getByText('Verified', { exact: true }).waitFor();
  assert.match(await acme.getByRole('status').textContent(), /Keep the record published/);
  assert.equal(await acme.getByLabel('TXT record value').inputValue(), value, 'the record stays in view');
  assert.equal(await acme.locator('.reason').count(), 0, 'no reason once verified');
  await saml.getByText('Signs in people of: acme-e2e.test, example.com', { exact: false }).waitFor();

  // A second claim, published with nobody touching the page: the background check (due 30 s
  // after the claim) verifies it, and the page shows it without a reload.
  await field.fill('Acme2-E2E.test');
  await domains.getByRole('button', { name: 'Add domain' }).click();
  const second = claim('acme2-e2e.test');
  await second.getByRole('status').getByText('Pending').waitFor();
  await second.getByText('Not checked yet').waitFor();
  dns.records.set(await second.getByLabel('TXT record name').inputValue(), [await second.getByLabel('TXT record value').inputValue()]);
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  const asked = dns.queries.length;
  await second.getByRole('status').getByText('Verified', { exact: true }).waitFor({ timeout: 60_000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
  assert.ok(
    dns.queries.slice(asked).some((q) => q.name === '_scim-gateway.acme2-e2e.test'),
    'the background looked the record up',
  );
  await saml.getByText('Signs in people of: acme-e2e.test, acme2-e2e.test, example.com', { exact: false }).waitFor();
  await shot('domains-verified', domains);
  await shot('domains-saml', saml);

  // Removing a verified domain warns that it stops signing people in; then it is gone.
  await second.getByRole('button', { name: 'Remove acme2-e2e.test' }).click();
  const confirm = page.getByRole('dialog', { name: 'Remove acme2-e2e.test?' });
  await confirm.getByText('removing it stops your identity provider signing in people with @acme2-e2e.test addresses at once').waitFor();
  await shot('domains-remove', confirm);
  await confirm.getByRole('button', { name: 'Remove domain' }).click();
  await domains.getByText('Removed acme2-e2e.test.').waitFor();
  await claim('acme2-e2e.test').waitFor({ state: 'detached' });
  await saml.getByText('Signs in people of: acme-e2e.test, example.com', { exact: false }).waitFor();

  await shot('domains-page');
  // Nothing on the section is wider than a phone.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await claim('acme-e2e.test').waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 1, `the page scrolls sideways on a 390 px screen by ${overflow}px`);
  await shot('domains-390', domains);

  assert.deepEqual(foreign, [], 'nothing is loaded from outside the gateway');
  assert.deepEqual(errors, [], 'no console errors');
});
