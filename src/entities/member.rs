use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub account_id: String,
    pub user_name: String,
    /// Lower-cased userName, unique per workspace.
    pub user_name_key: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    /// Role the IdP set through the core `roles` attribute, if any.
    pub direct_role: Option<String>,
    pub effective_role: String,
    /// The workspace's bootstrap owner: always an admin, whatever the IdP sends.
    pub is_owner: bool,
    /// Other attributes the IdP sent (enterprise extension, phone numbers, ...), as a JSON object.
    #[sea_orm(column_type = "Text")]
    pub attributes: String,
    /// The account's names, copied so a user is read from this row alone (kept in step with
    /// `accounts` by the domain layer, in the transaction that writes them).
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The e-mails in the order given, as `[[value, type, primary], ...]` (a copy of
    /// `member_emails`, which filters and keys use).
    #[sea_orm(column_type = "Text")]
    pub emails: String,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::account::Entity",
        from = "Column::AccountId",
        to = "super::account::Column::Id"
    )]
    Account,
}

impl Related<super::account::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Account.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
