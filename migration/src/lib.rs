//! Schema of scim-gateway. Every change to the database goes through a migration here; the server
//! applies pending ones at start and `scim-gateway migrate` applies them explicitly.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_initial;
mod m20261129_000001_member_names_and_emails;
mod m20261204_000001_saml_sign_in;
mod m20261205_000001_account_emails_of_members;
mod m20261207_000001_admin_token_expiry;
mod m20261207_000002_sign_in_bounds;
mod m20261207_000003_claimed_domains;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_initial::Migration),
            Box::new(m20261129_000001_member_names_and_emails::Migration),
            Box::new(m20261204_000001_saml_sign_in::Migration),
            Box::new(m20261205_000001_account_emails_of_members::Migration),
            Box::new(m20261207_000001_admin_token_expiry::Migration),
            Box::new(m20261207_000002_sign_in_bounds::Migration),
            Box::new(m20261207_000003_claimed_domains::Migration),
        ]
    }
}
