// The GraphQL playground works in a real browser with nothing loaded from the internet, and the
// sign-in link signs the page in and leaves the address bar clean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, launchBrowser, onlyOrigin, startGateway } from './gateway.mjs';

let gateway;
let context;

before(async () => {
  gateway = await startGateway();
  context = await launchBrowser();
});

after(async () => {
  await context?.close();
  gateway?.stop();
});

test('the playground runs a query with the token from the sign-in link', async () => {
  const foreign = await onlyOrigin(context, gateway.url);
  const errors = [];
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  const introspected = page.waitForResponse(
    (r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('IntrospectionQuery'),
  );
  await page.goto(`${gateway.url}/graphql/playground#token=${gateway.token}`);
  assert.equal(new URL(page.url()).hash, '', 'the token is removed from the address bar');
  // GraphiQL drops a result that arrives before its editors have loaded: wait for the schema and
  // for the result editor before running the query.
  assert.equal((await introspected).status(), 200);
  await page.locator('.result-window .CodeMirror').waitFor({ timeout: 20_000 });
  await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: 20_000 });
  const execute = page.getByRole('button', { name: /execute query/i });
  await execute.click();
  const result = page.locator('.result-window');
  await result.getByText('"slug": "demo"').waitFor({ timeout: 20_000 });
  const text = await result.innerText();
  const baseUrl = text.match(/"baseUrl": "([^"]+)"/)?.[1];
  assert.match(baseUrl ?? '', new RegExp(`^${gateway.url}/api/teams/[0-9a-f-]+/scim/v2$`), 'the base URL is where the gateway listens');
  await page.screenshot({ path: join(artifacts, 'playground.png'), fullPage: true });
  assert.deepEqual(foreign, [], 'nothing is loaded from outside the gateway');
  assert.deepEqual(errors, [], 'no console errors');
  await page.close();
});

test('the sign-in link signs the page in', async () => {
  const page = await context.newPage();
  await page.goto(`${gateway.url}/#token=${gateway.token}`);
  await page.getByText('Demo workspace').waitFor({ timeout: 20_000 });
  assert.equal(new URL(page.url()).hash, '');
  await page.screenshot({ path: join(artifacts, 'page.png'), fullPage: true });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByText('Open the sign-in link').waitFor({ timeout: 10_000 });
  await page.close();
});
