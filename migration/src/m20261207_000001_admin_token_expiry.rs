//! Admin tokens get an expiry (`admin-token --expires-in-days`, 30 days unless told otherwise).
//! Tokens made before it keep none: they work until revoked, and the settings page lists them
//! so an admin can revoke them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AdminTokens {
    Table,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(AdminTokens::Table)
                .add_column(timestamp_with_time_zone_null(AdminTokens::ExpiresAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(AdminTokens::Table)
                .drop_column(AdminTokens::ExpiresAt)
                .to_owned(),
        )
        .await
    }
}
