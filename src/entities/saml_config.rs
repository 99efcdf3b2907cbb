use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_configs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_id: String,
    pub idp_entity_id: String,
    pub sso_url: String,
    #[sea_orm(column_type = "Text")]
    pub certificate_pem: String,
    pub certificate_subject: String,
    pub certificate_not_before: DateTimeUtc,
    pub certificate_expires_at: DateTimeUtc,
    /// The IdP's next signing certificate, accepted beside the current one during a rotation.
    #[sea_orm(column_type = "Text", nullable)]
    pub next_certificate_pem: Option<String>,
    pub next_certificate_subject: Option<String>,
    pub next_certificate_not_before: Option<DateTimeUtc>,
    pub next_certificate_expires_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    /// Whether an answer the IdP sends unasked (an Okta tile) signs in.
    pub allow_idp_initiated: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
