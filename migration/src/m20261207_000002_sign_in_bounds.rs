//! What the public sign-in routes need to stay bounded and bound to a browser:
//! - `saml_configs.allow_idp_initiated`: a workspace may refuse IdP-initiated sign-in (on by
//!   default: Okta's tiles use it).
//! - `service_keys`: keys the service generates once and every replica shares; the one named
//!   `sign_in_state` authenticates the cookie in which an SP-initiated sign-in keeps its pending
//!   request (nothing is stored when `/login` is called; the cookie also binds the answer to the
//!   browser that asked).
//! - `activity.occurrences`, `activity.client`, `activity.fold_key`: repeated refusals from one
//!   client within a minute are one entry with a count.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SamlConfigs {
    Table,
    AllowIdpInitiated,
}

#[derive(DeriveIden)]
enum ServiceKeys {
    Table,
    Name,
    Secret,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Activity {
    Table,
    Occurrences,
    Client,
    FoldKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        let add = |table: &dyn Fn() -> TableAlterStatement, mut column: ColumnDef| {
            let mut alter = table();
            alter.add_column(&mut column);
            alter
        };
        let configs = || Table::alter().table(SamlConfigs::Table).to_owned();
        let activity = || Table::alter().table(Activity::Table).to_owned();
        for statement in [
            add(
                &configs,
                boolean(SamlConfigs::AllowIdpInitiated)
                    .default(true)
                    .to_owned(),
            ),
            add(
                &activity,
                integer(Activity::Occurrences).default(1).to_owned(),
            ),
            add(&activity, string_null(Activity::Client)),
            add(&activity, string_null(Activity::FoldKey)),
        ] {
            m.alter_table(statement).await?;
        }
        m.create_table(
            Table::create()
                .table(ServiceKeys::Table)
                .col(string(ServiceKeys::Name).primary_key())
                .col(string(ServiceKeys::Secret))
                .col(timestamp_with_time_zone(ServiceKeys::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("activity_fold_key")
                .table(Activity::Table)
                .col(Activity::FoldKey)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("activity_fold_key")
                .table(Activity::Table)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(ServiceKeys::Table).to_owned())
            .await?;
        for (table, column) in [
            (Activity::Table.into_iden(), Activity::FoldKey.into_iden()),
            (Activity::Table.into_iden(), Activity::Client.into_iden()),
            (
                Activity::Table.into_iden(),
                Activity::Occurrences.into_iden(),
            ),
            (
                SamlConfigs::Table.into_iden(),
                SamlConfigs::AllowIdpInitiated.into_iden(),
            ),
        ] {
            m.alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
