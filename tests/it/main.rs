//! Integration tests: the real HTTP server on an ephemeral port, over a fresh SQLite file, or a
//! fresh PostgreSQL database when `TEST_DATABASE_URL` names a server.

mod activity;
mod api_keys;
mod backend;
mod backup;
mod checkpoints;
mod cli;
mod common;
mod compat;
mod concurrency;
mod connections;
mod crash;
mod filter_property;
mod graphql_directory;
mod graphql_protocol;
mod hostile;
mod isolation;
mod limits;
mod mappings;
mod member_copies;
mod operations;
mod outage;
mod process;
mod read_paths;
mod saml;
mod saml_idp;
mod schema_sdl;
mod scim_bulk;
mod scim_cursors;
mod scim_groups;
mod scim_protocol;
mod scim_switch;
mod scim_users;
mod secrets_at_rest;
mod sso;
mod web;
