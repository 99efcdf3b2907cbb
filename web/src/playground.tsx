import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/style.css';
import { storedToken, takeTokenFromLocation } from './token';

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
