use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_requests")]
pub struct Model {
    /// The AuthnRequest's ID, which the IdP echoes as `InResponseTo`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    /// `test`: an admin's test sign-in (an SP-initiated sign-in keeps its request in a cookie).
    pub purpose: String,
    pub return_to: Option<String>,
    pub requested_by_account_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub consumed_at: Option<DateTimeUtc>,
    /// A test sign-in's report, as JSON.
    #[sea_orm(column_type = "Text", nullable)]
    pub report: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
