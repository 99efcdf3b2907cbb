//! The whole domain: workspaces, accounts, members, groups, memberships, group-to-role mappings,
//! SAML configurations, SCIM settings, API keys, admin tokens and activity.
//!
//! Case-insensitive uniqueness (userName, e-mail, group name) is enforced on `*_key` columns that
//! the domain layer fills with the normalised value, so SQLite and PostgreSQL behave the same.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
    Slug,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Email,
    EmailKey,
    GivenName,
    FamilyName,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
    WorkspaceId,
    AccountId,
    UserName,
    UserNameKey,
    ExternalId,
    DisplayName,
    Active,
    DirectRole,
    EffectiveRole,
    IsOwner,
    Attributes,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MemberEmails {
    Table,
    Id,
    MemberId,
    WorkspaceId,
    Value,
    ValueKey,
    Kind,
    IsPrimary,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    WorkspaceId,
    DisplayName,
    NameKey,
    ExternalId,
    Attributes,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    GroupId,
    MemberId,
    WorkspaceId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum GroupRoleMappings {
    Table,
    Id,
    WorkspaceId,
    GroupName,
    GroupKey,
    Role,
    Position,
}

#[derive(DeriveIden)]
enum SamlConfigs {
    Table,
    WorkspaceId,
    IdpEntityId,
    SsoUrl,
    CertificatePem,
    CertificateSubject,
    CertificateNotBefore,
    CertificateExpiresAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScimSettings {
    Table,
    WorkspaceId,
    Enabled,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    WorkspaceId,
    Name,
    Prefix,
    SecretHash,
    CreatedByAccountId,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    LastUsedClient,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AdminTokens {
    Table,
    Id,
    WorkspaceId,
    AccountId,
    Prefix,
    TokenHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Activity {
    Table,
    Id,
    WorkspaceId,
    At,
    Actor,
    Action,
    Method,
    Path,
    Status,
    LatencyMs,
    ResourceType,
    ResourceId,
    Summary,
    Succeeded,
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

fn index(
    name: &str,
    table: impl IntoIden,
    cols: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Workspaces::Table)
                .col(string(Workspaces::Id).primary_key())
                .col(string_uniq(Workspaces::Slug))
                .col(string(Workspaces::Name))
                .col(timestamp_with_time_zone(Workspaces::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Accounts::Table)
                .col(string(Accounts::Id).primary_key())
                .col(string(Accounts::Email))
                .col(string_uniq(Accounts::EmailKey))
                .col(string_null(Accounts::GivenName))
                .col(string_null(Accounts::FamilyName))
                .col(timestamp_with_time_zone(Accounts::CreatedAt))
                .col(timestamp_with_time_zone(Accounts::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Members::Table)
                .col(string(Members::Id).primary_key())
                .col(string(Members::WorkspaceId))
                .col(string(Members::AccountId))
                .col(string(Members::UserName))
                .col(string(Members::UserNameKey))
                .col(string_null(Members::ExternalId))
                .col(string_null(Members::DisplayName))
                .col(boolean(Members::Active))
                .col(string_null(Members::DirectRole))
                .col(string(Members::EffectiveRole))
                .col(boolean(Members::IsOwner))
                .col(text(Members::Attributes))
                .col(big_integer(Members::Version))
                .col(timestamp_with_time_zone(Members::CreatedAt))
                .col(timestamp_with_time_zone(Members::UpdatedAt))
                .foreign_key(&mut fk_cascade(
                    Members::Table,
                    Members::WorkspaceId,
                    Workspaces::Table,
                    Workspaces::Id,
                ))
                .foreign_key(
                    ForeignKey::create()
                        .from(Members::Table, Members::AccountId)
                        .to(Accounts::Table, Accounts::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_members_workspace_user_name",
            Members::Table,
            &["workspace_id", "user_name_key"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ux_members_workspace_account",
            Members::Table,
            &["workspace_id", "account_id"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_members_workspace_external_id",
            Members::Table,
            &["workspace_id", "external_id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_members_workspace_created",
            Members::Table,
            &["workspace_id", "created_at", "id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_members_account",
            Members::Table,
            &["account_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(MemberEmails::Table)
                .col(big_pk_auto(MemberEmails::Id))
                .col(string(MemberEmails::MemberId))
                .col(string(MemberEmails::WorkspaceId))
                .col(string(MemberEmails::Value))
                .col(string(MemberEmails::ValueKey))
                .col(string_null(MemberEmails::Kind))
                .col(boolean(MemberEmails::IsPrimary))
                .foreign_key(&mut fk_cascade(
                    MemberEmails::Table,
                    MemberEmails::MemberId,
                    Members::Table,
                    Members::Id,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_member_emails_workspace_value",
            MemberEmails::Table,
            &["workspace_id", "value_key"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_member_emails_member",
            MemberEmails::Table,
            &["member_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Groups::Table)
                .col(string(Groups::Id).primary_key())
                .col(string(Groups::WorkspaceId))
                .col(string(Groups::DisplayName))
                .col(string(Groups::NameKey))
                .col(string_null(Groups::ExternalId))
                .col(text(Groups::Attributes))
                .col(big_integer(Groups::Version))
                .col(timestamp_with_time_zone(Groups::CreatedAt))
                .col(timestamp_with_time_zone(Groups::UpdatedAt))
                .foreign_key(&mut fk_cascade(
                    Groups::Table,
                    Groups::WorkspaceId,
                    Workspaces::Table,
                    Workspaces::Id,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_groups_workspace_name",
            Groups::Table,
            &["workspace_id", "name_key"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_groups_workspace_external_id",
            Groups::Table,
            &["workspace_id", "external_id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_groups_workspace_created",
            Groups::Table,
            &["workspace_id", "created_at", "id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(GroupMembers::Table)
                .col(string(GroupMembers::GroupId))
                .col(string(GroupMembers::MemberId))
                .col(string(GroupMembers::WorkspaceId))
                .col(timestamp_with_time_zone(GroupMembers::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(GroupMembers::GroupId)
                        .col(GroupMembers::MemberId),
                )
                .foreign_key(&mut fk_cascade(
                    GroupMembers::Table,
                    GroupMembers::GroupId,
                    Groups::Table,
                    Groups::Id,
                ))
                .foreign_key(&mut fk_cascade(
                    GroupMembers::Table,
                    GroupMembers::MemberId,
                    Members::Table,
                    Members::Id,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_group_members_member",
            GroupMembers::Table,
            &["member_id", "group_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(GroupRoleMappings::Table)
                .col(big_pk_auto(GroupRoleMappings::Id))
                .col(string(GroupRoleMappings::WorkspaceId))
                .col(string(GroupRoleMappings::GroupName))
                .col(string(GroupRoleMappings::GroupKey))
                .col(string(GroupRoleMappings::Role))
                .col(integer(GroupRoleMappings::Position))
                .foreign_key(&mut fk_cascade(
                    GroupRoleMappings::Table,
                    GroupRoleMappings::WorkspaceId,
                    Workspaces::Table,
                    Workspaces::Id,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_group_role_mappings_workspace_key",
            GroupRoleMappings::Table,
            &["workspace_id", "group_key"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(SamlConfigs::Table)
                .col(string(SamlConfigs::WorkspaceId).primary_key())
                .col(string(SamlConfigs::IdpEntityId))
                .col(string(SamlConfigs::SsoUrl))
                .col(text(SamlConfigs::CertificatePem))
                .col(string(SamlConfigs::CertificateSubject))
                .col(timestamp_with_time_zone(SamlConfigs::CertificateNotBefore))
                .col(timestamp_with_time_zone(SamlConfigs::CertificateExpiresAt))
                .col(timestamp_with_time_zone(SamlConfigs::UpdatedAt))
                .foreign_key(&mut fk_cascade(
                    SamlConfigs::Table,
                    SamlConfigs::WorkspaceId,
                    Workspaces::Table,
                    Workspaces::Id,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ScimSettings::Table)
                .col(string(ScimSettings::WorkspaceId).primary_key())
                .col(boolean(ScimSettings::Enabled))
                .col(timestamp_with_time_zone(ScimSettings::UpdatedAt))
                .foreign_key(&mut fk_cascade(
                    ScimSettings::Table,
                    ScimSettings::WorkspaceId,
                    Workspaces::Table,
                    Workspaces::Id,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(string(ApiKeys::Id).primary_key())
                .col(string(ApiKeys::WorkspaceId))
                .col(string(ApiKeys::Name))
                .col(string(ApiKeys::Prefix))
                .col(string_uniq(ApiKeys::SecretHash))
                .col(string_null(ApiKeys::CreatedByAccountId))
                .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                .col(string_null(ApiKeys::LastUsedClient))
                .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                .foreign_key(&mut fk_cascade(
                    ApiKeys::Table,
                    ApiKeys::WorkspaceId,
                    Workspaces::Table,
                    Workspaces::Id,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_api_keys_workspace",
            ApiKeys::Table,
            &["workspace_id", "created_at"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(AdminTokens::Table)
                .col(string(AdminTokens::Id).primary_key())
                .col(string(AdminTokens::WorkspaceId))
                .col(string(AdminTokens::AccountId))
                .col(string(AdminTokens::Prefix))
                .col(string_uniq(AdminTokens::TokenHash))
                .col(timestamp_with_time_zone(AdminTokens::CreatedAt))
                .col(timestamp_with_time_zone_null(AdminTokens::LastUsedAt))
                .col(timestamp_with_time_zone_null(AdminTokens::RevokedAt))
                .foreign_key(&mut fk_cascade(
                    AdminTokens::Table,
                    AdminTokens::WorkspaceId,
                    Workspaces::Table,
                    Workspaces::Id,
                ))
                .foreign_key(&mut fk_cascade(
                    AdminTokens::Table,
                    AdminTokens::AccountId,
                    Accounts::Table,
                    Accounts::Id,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_admin_tokens_workspace",
            AdminTokens::Table,
            &["workspace_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Activity::Table)
                .col(big_pk_auto(Activity::Id))
                .col(string(Activity::WorkspaceId))
                .col(timestamp_with_time_zone(Activity::At))
                .col(string(Activity::Actor))
                .col(string(Activity::Action))
                .col(string_null(Activity::Method))
                .col(string_null(Activity::Path))
                .col(integer(Activity::Status))
                .col(integer_null(Activity::LatencyMs))
                .col(string_null(Activity::ResourceType))
                .col(string_null(Activity::ResourceId))
                .col(text(Activity::Summary))
                .col(boolean(Activity::Succeeded))
                .foreign_key(&mut fk_cascade(
                    Activity::Table,
                    Activity::WorkspaceId,
                    Workspaces::Table,
                    Workspaces::Id,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_activity_workspace_id",
            Activity::Table,
            &["workspace_id", "id"],
            false,
        ))
        .await?;
        m.create_index(index("ix_activity_at", Activity::Table, &["at"], false))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Activity::Table.into_iden(),
            AdminTokens::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            ScimSettings::Table.into_iden(),
            SamlConfigs::Table.into_iden(),
            GroupRoleMappings::Table.into_iden(),
            GroupMembers::Table.into_iden(),
            Groups::Table.into_iden(),
            MemberEmails::Table.into_iden(),
            Members::Table.into_iden(),
            Accounts::Table.into_iden(),
            Workspaces::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
