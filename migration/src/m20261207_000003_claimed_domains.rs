//! Claimed domains (issue 27): a workspace proves it owns an e-mail domain before its IdP may
//! sign in or rename anyone of that domain.
//! - `workspace_domains`: one row per claim; at most one `VERIFIED` row per domain (a partial
//!   unique index: pending claims of several workspaces coexist, the first to verify wins).
//! - `accounts.email_domain`: the account's e-mail domain in its IDNA ASCII form, what a claim
//!   is compared with. Rows that were there are filled by the service at start (the IDNA
//!   mapping is Rust's, not SQL's); until then a NULL matches no claim.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WorkspaceDomains {
    Table,
    Id,
    WorkspaceId,
    Domain,
    Status,
    TxtValue,
    VerifiedAt,
    VerifiedBy,
    LastCheckedAt,
    LastError,
    MissingSince,
    NextCheckAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    EmailDomain,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(WorkspaceDomains::Table)
                .col(string(WorkspaceDomains::Id).primary_key())
                .col(string(WorkspaceDomains::WorkspaceId))
                .col(string(WorkspaceDomains::Domain))
                .col(string(WorkspaceDomains::Status))
                .col(string(WorkspaceDomains::TxtValue))
                .col(timestamp_with_time_zone_null(WorkspaceDomains::VerifiedAt))
                .col(string_null(WorkspaceDomains::VerifiedBy))
                .col(timestamp_with_time_zone_null(
                    WorkspaceDomains::LastCheckedAt,
                ))
                .col(string_null(WorkspaceDomains::LastError))
                .col(timestamp_with_time_zone_null(
                    WorkspaceDomains::MissingSince,
                ))
                .col(timestamp_with_time_zone_null(WorkspaceDomains::NextCheckAt))
                .col(timestamp_with_time_zone(WorkspaceDomains::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(WorkspaceDomains::Table, WorkspaceDomains::WorkspaceId)
                        .to(Workspaces::Table, Workspaces::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_workspace_domains_claim")
                .table(WorkspaceDomains::Table)
                .col(WorkspaceDomains::WorkspaceId)
                .col(WorkspaceDomains::Domain)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("workspace_domains_next_check")
                .table(WorkspaceDomains::Table)
                .col(WorkspaceDomains::NextCheckAt)
                .to_owned(),
        )
        .await?;
        // One workspace at a time may hold a domain verified; the same SQL on both backends.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_workspace_domains_verified ON workspace_domains (domain) \
                 WHERE status = 'VERIFIED'",
            )
            .await?;
        m.alter_table(
            Table::alter()
                .table(Accounts::Table)
                .add_column(string_null(Accounts::EmailDomain))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Accounts::Table)
                .drop_column(Accounts::EmailDomain)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(WorkspaceDomains::Table).to_owned())
            .await
    }
}
