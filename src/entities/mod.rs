//! sea-orm entities, one per table of the `migration` crate. Only `domain/` uses them.

pub mod account;
pub mod activity;
pub mod admin_token;
pub mod api_key;
pub mod group;
pub mod group_member;
pub mod group_role_mapping;
pub mod member;
pub mod member_email;
pub mod saml_assertion_seen;
pub mod saml_config;
pub mod saml_request;
pub mod scim_setting;
pub mod service_key;
pub mod session;
pub mod workspace;
pub mod workspace_domain;
