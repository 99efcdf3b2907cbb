// Single sign-on end to end in Debian's Chromium: the gateway on a fresh database, a third-party
// IdP (samlify) started here, and the loop people live in. SCIM provisions a labeler; "Sign in
// with SSO" goes to the IdP and back signed in; the labeler sees their own page, signs out; the
// workspace owner signs in the same way and lands on the settings page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, launchBrowser, startGateway } from './gateway.mjs';
import { startIdp } from './idp.mjs';

let gateway;
let idp;
let context;
let page;
const errors = [];

async function gql(query, variables = {}) {
  const response = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

before(async () => {
  gateway = await startGateway();
  idp = await startIdp();
  context = await launchBrowser();
  // Nothing leaves the two local origins.
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(gateway.url) || u.startsWith(idp.origin) || u.startsWith('data:')) return route.continue();
    errors.push(`request outside the test: ${u}`);
    return route.abort();
  });
  page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
});

after(async () => {
  await context?.close();
  idp?.stop();
  gateway?.stop();
});

test('people sign in through their IdP and get the role SCIM gave them', async () => {
  const { configureSaml } = await gql(
    'mutation($input: SamlInput!) { configureSaml(input: $input) { spMetadataUrl } }',
    { input: { idpEntityId: idp.entityID, ssoUrl: idp.ssoUrl, certificatePem: idp.certificate } },
  );
  await idp.trust(configureSaml.spMetadataUrl);
  const { enableScim } = await gql('mutation { enableScim { baseUrl } }');
  const { generateApiKey } = await gql('mutation { generateApiKey(name: "e2e") { secret } }');
  const created = await fetch(`${enableScim.baseUrl}/Users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${generateApiKey.secret}`, 'content-type': 'application/scim+json' },
    body: JSON.stringify({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'lee@example.com',
      name: { givenName: 'Lee', familyName: 'Ng' },
      emails: [{ value: 'lee@example.com', primary: true }],
      active: true,
    }),
  });
  assert.equal(created.status, 201, await created.clone().text());

  // A labeler signs in with SSO from the sign-in screen, by e-mail.
  idp.signInAs('lee@example.com');
  await page.goto(gateway.url);
  await page.getByLabel('Workspace or work e-mail').fill('lee@example.com');
  await page.getByRole('button', { name: 'Sign in with SSO' }).click();
  await page.getByRole('heading', { name: 'Signed in as Lee Ng' }).waitFor();
  assert.equal(idp.requests.length, 1, 'the IdP saw one AuthnRequest');
  assert.equal(await page.getByTestId('member-role').textContent(), 'Labeler — by default');
  assert.equal(await page.getByRole('heading', { name: 'SAML & SCIM' }).count(), 0, 'no settings for a labeler');
  const cookies = await context.cookies(gateway.url);
  const session = cookies.find((c) => c.name === 'scimgw_session');
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');
  // The sign-in cookie that tied the IdP's answer to this browser went with the answer and is gone.
  assert.equal(cookies.some((c) => c.name === 'scimgw_sso'), false, 'the sign-in cookie is cleared');
  await page.screenshot({ path: join(artifacts, 'sso-labeler.png'), fullPage: true });

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in with SSO' }).waitFor();
  assert.equal((await context.cookies(gateway.url)).some((c) => c.name === 'scimgw_session'), false, 'the cookie is gone');
  await page.reload();
  await page.getByRole('button', { name: 'Sign in with SSO' }).waitFor();

  // The workspace owner, an admin, signs in by workspace slug and gets the settings page.
  idp.signInAs('admin@example.com');
  await page.getByLabel('Workspace or work e-mail').fill('demo');
  await page.getByRole('button', { name: 'Sign in with SSO' }).click();
  await page.getByRole('heading', { name: 'SAML & SCIM' }).waitFor();
  await page.getByText('Demo workspace').first().waitFor();
  await page.getByRole('button', { name: 'Test sign-in' }).waitFor();

  // IdP-initiated sign-in (app tiles) can be switched off; the page says what each position costs.
  const tiles = () => page.getByRole('checkbox', { name: /IdP-initiated/ });
  assert.equal(await tiles().isChecked(), true, 'on by default');
  await page.getByText(/another site could sign a visitor in as someone else/).waitFor();
  await tiles().click();
  await page.getByText(/App tiles in Okta or My Apps stop working/).waitFor();
  await page.reload();
  await page.getByRole('heading', { name: 'SAML & SCIM' }).waitFor();
  assert.equal(await tiles().isChecked(), false, 'kept off');

  // Test sign-in from the SAML section: a round trip through the IdP and a report, no new session.
  const before = (await context.cookies(gateway.url)).find((c) => c.name === 'scimgw_session').value;
  await page.getByRole('button', { name: 'Test sign-in' }).click();
  const report = page.getByLabel('Test sign-in report');
  await report.waitFor();
  assert.match(await report.getByRole('status').textContent(), /Test sign-in succeeded\s+as admin@example.com \(Admin\)/);
  assert.equal(await report.locator('[data-passed="true"]').count(), 11);
  // The check that the address is in a verified domain of the workspace (example.com, vouched
  // for by the operator on the demo workspace) is a line like the others.
  assert.equal(
    await report.locator('[data-check="DOMAIN"][data-passed="true"]').textContent(),
    '✓ Address in a verified domain: example.com is verified by this workspace',
  );
  const after = (await context.cookies(gateway.url)).find((c) => c.name === 'scimgw_session').value;
  assert.equal(after, before, 'the test did not replace the session');
  await page.screenshot({ path: join(artifacts, 'sso-test-sign-in.png'), fullPage: true });

  // An unknown person is told, on a page, to ask their admin.
  await page.getByRole('button', { name: 'Sign out' }).click();
  idp.signInAs('stranger@example.com');
  await page.getByLabel('Workspace or work e-mail').fill('demo');
  await page.getByRole('button', { name: 'Sign in with SSO' }).click();
  await page.getByRole('heading', { name: 'Sign-in refused' }).waitFor();
  assert.match(await page.locator('#message').textContent(), /not a member of this workspace: ask your admin to assign you in your identity provider/);

  assert.deepEqual(errors, []);
});
