import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/style.css';
// A file, not a <style> in the page: the Content-Security-Policy allows no inline style.
import './playground.css';
import { storedToken, takeTokenFromLocation } from './token';

// GraphiQL's dialogs add a <style> element (react-remove-scroll, which reads the nonce as
// __webpack_nonce__); the page's Content-Security-Policy allows it by the nonce the gateway put
// in this page, and no other inline style.
const styleNonce = document.querySelector<HTMLMetaElement>('meta[name="csp-style-nonce"]')?.content;
if (styleNonce) (globalThis as { __webpack_nonce__?: string }).__webpack_nonce__ = styleNonce;

takeTokenFromLocation();
const token = storedToken();
const wsUrl = `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/graphql`;
const fetcher = createGraphiQLFetcher({
  url: '/graphql',
  subscriptionUrl: wsUrl,
  wsConnectionParams: token ? { Authorization: `Bearer ${token}` } : undefined,
});

const defaultQuery = `# The SAML & SCIM settings of your workspace.
# Put your admin token in the Headers tab: {"Authorization": "Bearer <token>"}
query Settings {
  workspace {
    id
    slug
    name
    saml { configured idpEntityId ssoUrl certificateExpiresAt }
    scim { enabled baseUrl }
    apiKeys { id name prefix createdAt expiresAt lastUsedAt lastUsedClient revokedAt }
    groupRoleMappings { groupName role }
  }
}
`;

createRoot(document.getElementById('playground')!).render(
  <GraphiQL
    fetcher={fetcher}
    defaultQuery={defaultQuery}
    defaultHeaders={JSON.stringify({ Authorization: `Bearer ${token ?? '<admin token>'}` }, null, 2)}
    shouldPersistHeaders={false}
  />,
);
