//! A member keeps a copy of its account's names and of its e-mails (as a JSON array in the order
//! given), so a user is read from its own row: the account join and the e-mail aggregate cost a
//! lookup about an eighth of its work. The domain layer keeps the copies in step in the same
//! transactions that write accounts and e-mails; `member_emails` stays for filters and keys.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Members {
    Table,
    GivenName,
    FamilyName,
    Emails,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds one at a time.
        for column in [
            string_null(Members::GivenName),
            string_null(Members::FamilyName),
            text(Members::Emails).default("[]").to_owned(),
        ] {
            let mut column = column;
            m.alter_table(
                Table::alter()
                    .table(Members::Table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
        }
        let db = m.get_connection();
        let emails = match m.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                "COALESCE((SELECT json_agg(json_build_array(e.value, e.kind, e.is_primary) ORDER BY e.id) \
                 FROM member_emails e WHERE e.member_id = members.id)::text, '[]')"
            }
            _ => {
                "COALESCE((SELECT json_group_array(json_array(e.value, e.kind, json(CASE WHEN e.is_primary THEN 'true' ELSE 'false' END)) ORDER BY e.id) \
                 FROM member_emails e WHERE e.member_id = members.id), '[]')"
            }
        };
        db.execute_unprepared(&format!(
            "UPDATE members SET \
             given_name = (SELECT a.given_name FROM accounts a WHERE a.id = members.account_id), \
             family_name = (SELECT a.family_name FROM accounts a WHERE a.id = members.account_id), \
             emails = {emails}"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [Members::GivenName, Members::FamilyName, Members::Emails] {
            m.alter_table(
                Table::alter()
                    .table(Members::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
