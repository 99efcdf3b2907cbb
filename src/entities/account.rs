use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub email: String,
    /// Lower-cased e-mail: accounts are unique by e-mail, case-insensitively.
    pub email_key: String,
    /// The e-mail's domain in IDNA ASCII form (what a claimed domain is compared with).
    pub email_domain: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
