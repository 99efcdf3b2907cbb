//! Where a request below `/api/teams/{teamId}/scim/v2` goes: the workspace, the endpoint and the
//! resource id its path names, matched by hand (see `routes` for why).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use percent_encoding::percent_decode_str;

use crate::scim::error::ScimError;

const TEAMS: &str = "/api/teams/";
const SCIM_V2: &str = "/scim/v2";

/// An endpoint below the SCIM base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Users,
    UsersSearch,
    User,
    Groups,
    GroupsSearch,
    Group,
    Search,
    Bulk,
    ServiceProviderConfig,
    ResourceTypes,
    ResourceType,
    Schemas,
    Schema,
}

impl Endpoint {
    /// The route as metrics and logs name it.
    pub fn template(self) -> &'static str {
        macro_rules! base {
            ($rest:literal) => {
                concat!("/api/teams/{teamId}/scim/v2", $rest)
            };
        }
        match self {
            Endpoint::Users => base!("/Users"),
            Endpoint::UsersSearch => base!("/Users/.search"),
            Endpoint::User => base!("/Users/{id}"),
            Endpoint::Groups => base!("/Groups"),
            Endpoint::GroupsSearch => base!("/Groups/.search"),
            Endpoint::Group => base!("/Groups/{id}"),
            Endpoint::Search => base!("/.search"),
            Endpoint::Bulk => base!("/Bulk"),
            Endpoint::ServiceProviderConfig => base!("/ServiceProviderConfig"),
            Endpoint::ResourceTypes => base!("/ResourceTypes"),
            Endpoint::ResourceType => base!("/ResourceTypes/{name}"),
            Endpoint::Schemas => base!("/Schemas"),
            Endpoint::Schema => base!("/Schemas/{urn}"),
        }
    }

    /// The route below the base (`/Users/{id}`), as SCIM operations are labelled.
    pub fn resource(self) -> &'static str {
        &self.template()["/api/teams/{teamId}/scim/v2".len()..]
    }
}

/// A request's place below a SCIM base.
#[derive(Debug, PartialEq, Eq)]
pub enum ScimPath {
    /// A known endpoint of a workspace; `id` is its last segment when it names one resource.
    Endpoint {
        workspace_id: String,
        endpoint: Endpoint,
        id: Option<String>,
    },
    /// Below a SCIM base, but no endpoint: answered 404 before any key is checked.
    Unknown,
}

/// Where a path lands below `/api/teams/{teamId}/scim/v2`; `None` when it is not below one.
pub fn parse(path: &str) -> Option<ScimPath> {
    let rest = path.strip_prefix(TEAMS)?;
    let (team, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix(&SCIM_V2[1..])?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let Some(workspace_id) = decode(team) else {
        return Some(ScimPath::Unknown);
    };
    // One trailing slash names the same endpoint (Microsoft's collection sends `/Users/?filter=`).
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let mut segments = rest.split('/').skip(1);
    let (first, second) = (segments.next(), segments.next());
    if segments.next().is_some() {
        return Some(ScimPath::Unknown);
    }
    // Endpoint names in any case (`/users`, as Microsoft's reference collection sends); ids as
    // given.
    let named =
        |segment: Option<&str>, name: &str| segment.is_some_and(|s| s.eq_ignore_ascii_case(name));
    let found = if named(first, "Users") || named(first, "Groups") {
        let users = named(first, "Users");
        match second {
            None => Some((
                if users {
                    Endpoint::Users
                } else {
                    Endpoint::Groups
                },
                None,
            )),
            Some(".search") => Some((
                if users {
                    Endpoint::UsersSearch
                } else {
                    Endpoint::GroupsSearch
                },
                None,
            )),
            Some(id) => Some((
                if users {
                    Endpoint::User
                } else {
                    Endpoint::Group
                },
                Some(id),
            )),
        }
    } else if named(first, ".search") && second.is_none() {
        Some((Endpoint::Search, None))
    } else if named(first, "Bulk") && second.is_none() {
        Some((Endpoint::Bulk, None))
    } else if named(first, "ServiceProviderConfig") && second.is_none() {
        Some((Endpoint::ServiceProviderConfig, None))
    } else if named(first, "ResourceTypes") {
        Some(match second {
            None => (Endpoint::ResourceTypes, None),
            Some(name) => (Endpoint::ResourceType, Some(name)),
        })
    } else if named(first, "Schemas") {
        Some(match second {
            None => (Endpoint::Schemas, None),
            Some(urn) => (Endpoint::Schema, Some(urn)),
        })
    } else {
        None
    };
    let Some((endpoint, id)) = found else {
        return Some(ScimPath::Unknown);
    };
    let id = match id {
        None => None,
        Some(segment) => match decode(segment) {
            Some(id) => Some(id),
            None => return Some(ScimPath::Unknown),
        },
    };
    Some(ScimPath::Endpoint {
        workspace_id,
        endpoint,
        id,
    })
}

/// A non-empty path segment, percent-decoded to UTF-8.
fn decode(segment: &str) -> Option<String> {
    if segment.is_empty() {
        return None;
    }
    if !segment.contains('%') {
        return Some(segment.to_string());
    }
    percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// A path below a SCIM base that names no endpoint.
pub(super) fn no_such_endpoint() -> ScimError {
    ScimError::not_found("no such SCIM endpoint")
}

/// The last path segment of an endpoint that names one resource (a user's or group's id, a
/// resource type's name, a schema's URN), percent-decoded.
#[derive(Clone)]
pub struct ResourceId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ResourceId {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .remove::<ResourceId>()
            .ok_or_else(no_such_endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(path: &str) -> Option<(String, Endpoint, Option<String>)> {
        match parse(path)? {
            ScimPath::Endpoint {
                workspace_id,
                endpoint,
                id,
            } => Some((workspace_id, endpoint, id)),
            ScimPath::Unknown => None,
        }
    }

    #[test]
    fn known_endpoints_and_their_ids() {
        let base = "/api/teams/ws-1/scim/v2";
        let cases = [
            ("/Users", Endpoint::Users, None),
            ("/Users/.search", Endpoint::UsersSearch, None),
            ("/Users/u-1", Endpoint::User, Some("u-1")),
            ("/Groups", Endpoint::Groups, None),
            ("/Groups/.search", Endpoint::GroupsSearch, None),
            ("/Groups/g%201", Endpoint::Group, Some("g 1")),
            ("/.search", Endpoint::Search, None),
            ("/Bulk", Endpoint::Bulk, None),
            (
                "/ServiceProviderConfig",
                Endpoint::ServiceProviderConfig,
                None,
            ),
            ("/ResourceTypes", Endpoint::ResourceTypes, None),
            ("/ResourceTypes/User", Endpoint::ResourceType, Some("User")),
            ("/Schemas", Endpoint::Schemas, None),
            (
                "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
                Endpoint::Schema,
                Some("urn:ietf:params:scim:schemas:core:2.0:User"),
            ),
        ];
        for (rest, expected, id) in cases {
            for path in [format!("{base}{rest}"), format!("{base}{rest}/")] {
                assert_eq!(
                    endpoint(&path),
                    Some(("ws-1".to_string(), expected, id.map(str::to_string))),
                    "{path}"
                );
            }
            // The template names the same path shape.
            assert!(
                expected
                    .template()
                    .starts_with("/api/teams/{teamId}/scim/v2/")
            );
        }
        assert_eq!(
            endpoint("/api/teams/ws%2D1/scim/v2/Users").map(|e| e.0),
            Some("ws-1".to_string())
        );
        // Endpoint names in any case; ids as given.
        assert_eq!(
            endpoint("/api/teams/ws-1/scim/v2/users/U-1"),
            Some(("ws-1".to_string(), Endpoint::User, Some("U-1".to_string())))
        );
        assert_eq!(
            endpoint("/api/teams/ws-1/scim/v2/serviceproviderconfig/").map(|e| e.1),
            Some(Endpoint::ServiceProviderConfig)
        );
    }

    #[test]
    fn other_paths_below_a_base_are_unknown_and_the_rest_are_not_scim() {
        for path in [
            "/api/teams/ws-1/scim/v2",
            "/api/teams/ws-1/scim/v2/",
            "/api/teams/ws-1/scim/v2/Users//",
            "/api/teams/ws-1/scim/v2/Users/a/b",
            "/api/teams/ws-1/scim/v2/Users/a/b/",
            "/api/teams/ws-1/scim/v2/Nope",
            "/api/teams//scim/v2/Users",
            "/api/teams/ws-1/scim/v2/Users/%FF",
        ] {
            assert_eq!(parse(path), Some(ScimPath::Unknown), "{path}");
        }
        for path in [
            "/",
            "/graphql",
            "/api/teams/ws-1",
            "/api/teams/ws-1/scim/v2x/Users",
            "/api/teams/ws-1/scim/v1/Users",
            "/api/teams/ws-1/scimx",
        ] {
            assert_eq!(parse(path), None, "{path}");
        }
    }
}
