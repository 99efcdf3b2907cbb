//! Members added outside SCIM (workspace owners, admins made with `admin-token`) now carry their
//! account's e-mail as their one e-mail (primary, work), so an IdP importing users finds it. This
//! gives the members stored before that change the same: owners, and admin-token admins (direct
//! role admin, no external id, nothing else from an IdP) that have no e-mail yet.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const WITHOUT_EMAILS: &str = "m.emails = '[]' \
     AND NOT EXISTS (SELECT 1 FROM member_emails e WHERE e.member_id = m.id) \
     AND (m.is_owner OR (m.direct_role = 'admin' AND m.external_id IS NULL AND m.attributes = '{}'))";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let copy = match m.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                "json_build_array(json_build_array(a.email, 'work', true))::text"
            }
            _ => "json_array(json_array(a.email, 'work', json('true')))",
        };
        // The copy first (it still sees no rows), then the rows.
        db.execute_unprepared(&format!(
            "UPDATE members SET emails = (SELECT {copy} FROM accounts a WHERE a.id = members.account_id) \
             WHERE id IN (SELECT m.id FROM members m WHERE {WITHOUT_EMAILS})"
        ))
        .await?;
        db.execute_unprepared(
            "INSERT INTO member_emails (member_id, workspace_id, value, value_key, kind, is_primary) \
             SELECT m.id, m.workspace_id, a.email, a.email_key, 'work', TRUE \
             FROM members m JOIN accounts a ON a.id = m.account_id \
             WHERE m.emails <> '[]' \
             AND NOT EXISTS (SELECT 1 FROM member_emails e WHERE e.member_id = m.id) \
             AND (m.is_owner OR (m.direct_role = 'admin' AND m.external_id IS NULL AND m.attributes = '{}'))",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        // The e-mails stay: they are true of the people who have them.
        Ok(())
    }
}
