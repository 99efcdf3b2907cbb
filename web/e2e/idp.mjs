// A third-party SAML identity provider for the browser test: samlify's IdentityProvider (its own
// XML signer, not the gateway's library) behind a small HTTP server with an SSO endpoint
// (HTTP-Redirect in, HTTP-POST out). Whoever `signInAs` names is "signed in" at this IdP.
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as samlify from 'samlify';

// The IdP side validates nothing against XSD here; the gateway is what is tested.
samlify.setSchemaValidator({ validate: async () => 'skipped' });

function keyPair() {
  const dir = mkdtempSync(join(tmpdir(), 'scimgw-idp-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=e2e samlify IdP'], { stdio: 'ignore' });
  return { privateKey: readFileSync(join(dir, 'k.pem'), 'utf8'), certificate: readFileSync(join(dir, 'c.pem'), 'utf8') };
}

const escape = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export async function startIdp() {
  const { privateKey, certificate } = keyPair();
  let user = null;
  let sp = null;
  let idp = null;
  const seen = [];
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://idp');
      if (url.pathname !== '/sso') {
        res.writeHead(404).end();
        return;
      }
      const query = Object.fromEntries(url.searchParams);
      const parsed = await idp.parseLoginRequest(sp, 'redirect', { query, octetString: '' });
      seen.push(parsed.extract.request.id);
      const { context, entityEndpoint } = await idp.createLoginResponse(sp, parsed, 'post', { email: user });
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        `<!doctype html><html><body><form method="post" action="${escape(entityEndpoint)}">` +
          `<input type="hidden" name="SAMLResponse" value="${escape(context)}">` +
          `<input type="hidden" name="RelayState" value="${escape(query.RelayState ?? '')}">` +
          `<button type="submit">Continue</button></form><script>document.forms[0].submit()</script></body></html>`,
      );
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e?.stack ?? e));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const entityID = `${origin}/metadata`;
  return {
    origin,
    entityID,
    ssoUrl: `${origin}/sso`,
    certificate,
    requests: seen,
    /** Trusts the gateway workspace's SP, from the metadata it serves. */
    async trust(spMetadataUrl) {
      const metadata = await (await fetch(spMetadataUrl)).text();
      sp = samlify.ServiceProvider({ metadata });
      idp = samlify.IdentityProvider({
        entityID,
        privateKey,
        signingCert: certificate,
        isAssertionSigned: true,
        singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${origin}/sso` }],
        nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
      });
    },
    signInAs(email) {
      user = email;
    },
    stop: () => server.close(),
  };
}
