//! Users as the rules see them: the user an IdP sends (`UserInput`), the stored member
//! (`User`), and a list request and its page.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Order;
use serde_json::{Map, Value};

use crate::domain::filter::{AttrPath, Filter};
use crate::domain::roles::Role;

/// Largest page a list returns; advertised as `filter.maxResults`.
pub const MAX_PAGE: u64 = 1000;
pub const DEFAULT_PAGE: u64 = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub value: String,
    pub kind: Option<String>,
    pub primary: bool,
}

/// A user as the IdP describes it (POST body, PUT body, or the result of applying a PATCH).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserInput {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    /// The account's names (shared across workspaces): on update `None` clears them, on create
    /// it leaves a linked account's names as they are.
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub active: bool,
    pub emails: Vec<Email>,
    /// The workspace roles the IdP assigned directly (`roles`), in any order.
    pub roles: Vec<Role>,
    /// Every other attribute the IdP sent, kept and returned as sent.
    pub attributes: Map<String, Value>,
}

impl UserInput {
    /// The direct role: of several roles sent, the highest, as Entra sends every app role
    /// assigned to a person and the person should get the one that grants most.
    pub fn direct_role(&self) -> Option<Role> {
        self.roles.iter().copied().max()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRef {
    pub id: String,
    pub display_name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: String,
    pub workspace_id: String,
    pub account_id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub active: bool,
    pub direct_role: Option<Role>,
    pub effective_role: Role,
    pub is_owner: bool,
    pub emails: Vec<Email>,
    pub groups: Vec<GroupRef>,
    pub attributes: Map<String, Value>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// The input that would reproduce this user (the base a PATCH applies to).
    pub fn to_input(&self) -> UserInput {
        UserInput {
            user_name: self.user_name.clone(),
            external_id: self.external_id.clone(),
            display_name: self.display_name.clone(),
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
            active: self.active,
            emails: self.emails.clone(),
            roles: self.direct_role.into_iter().collect(),
            attributes: self.attributes.clone(),
        }
    }
}

/// `startIndex`/`count`/`sortBy`/`sortOrder`/`filter` of a list request.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    /// 1-based.
    pub start_index: u64,
    pub count: u64,
    /// Cursor paging (RFC 9865) instead of `start_index`.
    pub cursor: Option<crate::domain::keyset::Cursor>,
}

impl ListQuery {
    pub fn order(&self) -> Order {
        if self.descending {
            Order::Desc
        } else {
            Order::Asc
        }
    }
}

pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
    /// Cursor paging: whether rows lie beyond this page in the direction it was read.
    pub more: bool,
}
