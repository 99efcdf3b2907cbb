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
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
