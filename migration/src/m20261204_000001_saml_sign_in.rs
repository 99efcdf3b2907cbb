//! SAML sign-in: the AuthnRequests a workspace sent (single use, so an answer's `InResponseTo` can be
//! checked by whichever replica receives it), the assertion IDs already accepted (the replay cache,
//! kept until each assertion expires), server-side sessions (only a hash of the cookie is stored),
//! and a second, "next" IdP certificate so a rotation needs no downtime.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SamlConfigs {
    Table,
    NextCertificatePem,
    NextCertificateSubject,
    NextCertificateNotBefore,
    NextCertificateExpiresAt,
}

#[derive(DeriveIden)]
enum SamlRequests {
    Table,
    Id,
    WorkspaceId,
    Purpose,
    ReturnTo,
    RequestedByAccountId,
    CreatedAt,
    ExpiresAt,
    ConsumedAt,
    Report,
}

#[derive(DeriveIden)]
enum SamlAssertionsSeen {
    Table,
    WorkspaceId,
    AssertionId,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TokenHash,
    WorkspaceId,
    MemberId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
}

fn fk_cascade(
    from_table: impl IntoIden,
    from_col: impl IntoIden,
    to_table: impl IntoIden,
    to_col: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(to_table, to_col)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds one at a time.
        for column in [
            text_null(SamlConfigs::NextCertificatePem),
            string_null(SamlConfigs::NextCertificateSubject),
            timestamp_with_time_zone_null(SamlConfigs::NextCertificateNotBefore),
            timestamp_with_time_zone_null(SamlConfigs::NextCertificateExpiresAt),
        ] {
            let mut column = column;
            m.alter_table(
                Table::alter()
                    .table(SamlConfigs::Table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
        }

        m.create_table(
            Table::create()
                .table(SamlRequests::Table)
                .col(string(SamlRequests::Id).primary_key())
                .col(string(SamlRequests::WorkspaceId))
                // "sign_in", or "test" for an admin's test sign-in (no session, a report).
                .col(string(SamlRequests::Purpose))
                .col(string_null(SamlRequests::ReturnTo))
                .col(string_null(SamlRequests::RequestedByAccountId))
                .col(timestamp_with_time_zone(SamlRequests::CreatedAt))
                .col(timestamp_with_time_zone(SamlRequests::ExpiresAt))
                .col(timestamp_with_time_zone_null(SamlRequests::ConsumedAt))
                .col(text_null(SamlRequests::Report))
                .foreign_key(&mut fk_cascade(
                    SamlRequests::Table,
                    SamlRequests::WorkspaceId,
                    Workspaces::Table,
                    Workspaces::Id,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("saml_requests_expires_at")
                .table(SamlRequests::Table)
                .col(SamlRequests::ExpiresAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SamlAssertionsSeen::Table)
                .col(string(SamlAssertionsSeen::WorkspaceId))
                .col(string(SamlAssertionsSeen::AssertionId))
                .col(timestamp_with_time_zone(SamlAssertionsSeen::ExpiresAt))
                .primary_key(
                    Index::create()
                        .col(SamlAssertionsSeen::WorkspaceId)
                        .col(SamlAssertionsSeen::AssertionId),
                )
                .foreign_key(&mut fk_cascade(
                    SamlAssertionsSeen::Table,
                    SamlAssertionsSeen::WorkspaceId,
                    Workspaces::Table,
                    Workspaces::Id,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("saml_assertions_seen_expires_at")
                .table(SamlAssertionsSeen::Table)
                .col(SamlAssertionsSeen::ExpiresAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(string(Sessions::Id).primary_key())
                .col(string(Sessions::TokenHash).unique_key())
                .col(string(Sessions::WorkspaceId))
                .col(string(Sessions::MemberId))
                .col(timestamp_with_time_zone(Sessions::CreatedAt))
                .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                .foreign_key(&mut fk_cascade(
                    Sessions::Table,
                    Sessions::WorkspaceId,
                    Workspaces::Table,
                    Workspaces::Id,
                ))
                .foreign_key(&mut fk_cascade(
                    Sessions::Table,
                    Sessions::MemberId,
                    Members::Table,
                    Members::Id,
                ))
                .to_owned(),
        )
        .await?;
        for (name, column) in [
            ("sessions_member_id", Sessions::MemberId),
            ("sessions_expires_at", Sessions::ExpiresAt),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(Sessions::Table)
                    .col(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Sessions::Table.into_iden(),
            SamlAssertionsSeen::Table.into_iden(),
            SamlRequests::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for column in [
            SamlConfigs::NextCertificatePem,
            SamlConfigs::NextCertificateSubject,
            SamlConfigs::NextCertificateNotBefore,
            SamlConfigs::NextCertificateExpiresAt,
        ] {
            m.alter_table(
                Table::alter()
                    .table(SamlConfigs::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
