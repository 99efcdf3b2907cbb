import { graphql } from './graphql';

export const SETTINGS = graphql(`
  query Settings {
    workspace {
      id
      slug
      name
      saml { configured idpEntityId ssoUrl certificateSubject certificateExpiresAt certificateExpiresSoon nextCertificateSubject nextCertificateExpiresAt updatedAt allowIdpInitiated spEntityId acsUrl spMetadataUrl }
      scim { enabled baseUrl }
      # The Domains section polls the same fields with DOMAINS.
      domains { domain asciiDomain status txtName txtValue verifiedAt verifiedBy lastCheckedAt lastError missingSince nextCheckAt deadline createdAt }
      apiKeys { id name prefix createdAt expiresAt expiresSoon lastUsedAt lastUsedClient revokedAt status }
      adminTokens { id prefix email name current createdAt lastUsedAt expiresAt expiresSoon revokedAt status }
      groupRoleMappings { groupName role }
      groups(first: 200) { nodes { id displayName memberCount mappedRole } totalCount }
    }
  }
`);

export const CONFIGURE_SAML = graphql(`
  mutation ConfigureSaml($input: SamlInput!) {
    configureSaml(input: $input) { configured }
  }
`);

export const SET_ALLOW_IDP_INITIATED = graphql(`
  mutation SetAllowIdpInitiated($allowed: Boolean!) {
    setAllowIdpInitiated(allowed: $allowed) { allowIdpInitiated }
  }
`);

export const ENABLE_SCIM = graphql(`mutation EnableScim { enableScim { enabled baseUrl } }`);
export const DISABLE_SCIM = graphql(`mutation DisableScim { disableScim { enabled baseUrl } }`);

export const GENERATE_KEY = graphql(`
  mutation GenerateKey($name: String!, $days: Int) {
    generateApiKey(name: $name, expiresInDays: $days) { secret apiKey { id name prefix } }
  }
`);

export const REVOKE_KEY = graphql(`mutation RevokeKey($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`);

export const REVOKE_ADMIN_TOKEN = graphql(`mutation RevokeAdminToken($id: ID!) { revokeAdminToken(id: $id) { id revokedAt } }`);

export const PREVIEW_MAPPINGS = graphql(`
  query PreviewMappings($mappings: [GroupRoleMappingInput!]!) {
    previewGroupRoleMappings(mappings: $mappings) { memberId userName active from to groupName reason }
  }
`);

export const SAVE_MAPPINGS = graphql(`
  mutation SaveMappings($mappings: [GroupRoleMappingInput!]!) {
    setGroupRoleMappings(mappings: $mappings) { mappings { groupName role } changes { userName from to reason } }
  }
`);

export const MEMBERS = graphql(`
  query Members($first: Int, $after: String, $search: String) {
    workspace {
      members(first: $first, after: $after, search: $search) {
        nodes { id userName givenName familyName active role roleSources { kind groupName role } }
        totalCount
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);

export const ACTIVITY = graphql(`
  query Activity($first: Int, $after: String) {
    workspace {
      activity(first: $first, after: $after) {
        nodes { id at actor action summary status succeeded method path occurrences client }
        totalCount
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);

export const ACTIVITY_LIVE = graphql(`
  subscription ActivityLive {
    activity { id at actor action summary status succeeded method path occurrences client }
  }
`);

export const ME = graphql(`
  query Me {
    me { userName givenName familyName role roleSource signedInWithSso workspace { id slug name } }
  }
`);

export const SIGN_OUT = graphql(`
  mutation SignOut {
    signOut
  }
`);

export const START_SAML_TEST = graphql(`
  mutation StartSamlTest {
    startSamlTest
  }
`);

export const SAML_TEST_REPORT = graphql(`
  query SamlTestReport($id: ID!) {
    samlTestReport(id: $id) { succeeded subject memberUserName role checks { check label passed detail } }
  }
`);

/** The workspace's claims alone: what the Domains section polls while a claim is pending. */
export const DOMAINS = graphql(`
  query Domains {
    workspace { domains { domain asciiDomain status txtName txtValue verifiedAt verifiedBy lastCheckedAt lastError missingSince nextCheckAt deadline createdAt } }
  }
`);

export const CLAIM_DOMAIN = graphql(`
  mutation ClaimDomain($domain: String!) {
    claimDomain(domain: $domain) { domain asciiDomain status txtName txtValue verifiedAt verifiedBy lastCheckedAt lastError missingSince nextCheckAt deadline createdAt }
  }
`);

export const CHECK_DOMAIN = graphql(`
  mutation CheckDomain($domain: String!) {
    checkDomain(domain: $domain) { domain asciiDomain status txtName txtValue verifiedAt verifiedBy lastCheckedAt lastError missingSince nextCheckAt deadline createdAt }
  }
`);

export const REMOVE_DOMAIN = graphql(`
  mutation RemoveDomain($domain: String!) {
    removeDomain(domain: $domain) { domain status }
  }
`);
