use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_emails")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub member_id: String,
    pub workspace_id: String,
    pub value: String,
    pub value_key: String,
    pub kind: Option<String>,
    pub is_primary: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
