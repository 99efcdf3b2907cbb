use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activity")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub workspace_id: String,
    pub at: DateTimeUtc,
    /// Who acted: `admin <email>`, `key <prefix> (<client>)`, or `system`.
    pub actor: String,
    pub action: String,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: i32,
    pub latency_ms: Option<i32>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// The effect in words.
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    pub succeeded: bool,
    /// How many times this happened: repeated refusals from one client within a minute are one
    /// entry.
    pub occurrences: i32,
    /// The client address, for the public sign-in routes' entries.
    pub client: Option<String>,
    /// What repeats fold on: workspace, client, check and minute.
    pub fold_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
