//! The workspace roles as GraphQL's `Role` enum.

use async_graphql::Enum;

use crate::domain::roles;

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(name = "Role")]
pub enum GqlRole {
    Admin,
    Reviewer,
    Labeler,
}

impl From<roles::Role> for GqlRole {
    fn from(role: roles::Role) -> Self {
        match role {
            roles::Role::Admin => GqlRole::Admin,
            roles::Role::Reviewer => GqlRole::Reviewer,
            roles::Role::Labeler => GqlRole::Labeler,
        }
    }
}

impl From<GqlRole> for roles::Role {
    fn from(role: GqlRole) -> Self {
        match role {
            GqlRole::Admin => roles::Role::Admin,
            GqlRole::Reviewer => roles::Role::Reviewer,
            GqlRole::Labeler => roles::Role::Labeler,
        }
    }
}
