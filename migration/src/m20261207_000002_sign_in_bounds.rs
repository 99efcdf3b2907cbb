//! What the public sign-in routes need to stay bounded and bound to a browser:
//! - `saml_configs.allow_idp_initiated`: a workspace may refuse IdP-initiated sign-in (on by
//!   default: Okta's tiles use it).
//! - `saml_requests.browser_binding_hash`: SHA-256 of the cookie an SP-initiated sign-in set in
//!   the browser that started it; the ACS refuses the answer from any other browser. An index
//!   to trim a workspace's pending requests to a cap, oldest first.
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
enum SamlRequests {
    Table,
    WorkspaceId,
    Purpose,
    CreatedAt,
    BrowserBindingHash,
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
        let requests = || Table::alter().table(SamlRequests::Table).to_owned();
        let activity = || Table::alter().table(Activity::Table).to_owned();
        for statement in [
            add(
                &configs,
                boolean(SamlConfigs::AllowIdpInitiated)
                    .default(true)
                    .to_owned(),
            ),
            add(&requests, string_null(SamlRequests::BrowserBindingHash)),
            add(
                &activity,
                integer(Activity::Occurrences).default(1).to_owned(),
            ),
            add(&activity, string_null(Activity::Client)),
            add(&activity, string_null(Activity::FoldKey)),
        ] {
            m.alter_table(statement).await?;
        }
        m.create_index(
            Index::create()
                .name("saml_requests_pending_by_workspace")
                .table(SamlRequests::Table)
                .col(SamlRequests::WorkspaceId)
                .col(SamlRequests::Purpose)
                .col(SamlRequests::CreatedAt)
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
        m.drop_index(
            Index::drop()
                .name("saml_requests_pending_by_workspace")
                .table(SamlRequests::Table)
                .to_owned(),
        )
        .await?;
        for (table, column) in [
            (Activity::Table.into_iden(), Activity::FoldKey.into_iden()),
            (Activity::Table.into_iden(), Activity::Client.into_iden()),
            (
                Activity::Table.into_iden(),
                Activity::Occurrences.into_iden(),
            ),
            (
                SamlRequests::Table.into_iden(),
                SamlRequests::BrowserBindingHash.into_iden(),
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
