use sea_orm::entity::prelude::*;

/// A workspace's claim on an e-mail domain and where its DNS check stands.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workspace_domains")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    /// IDNA ASCII form, lowercase, no trailing dot.
    pub domain: String,
    /// `PENDING`, `VERIFIED`, `FAILED` or `LAPSED`.
    pub status: String,
    /// The value the TXT record must hold (not a credential: it is published in DNS).
    pub txt_value: String,
    pub verified_at: Option<DateTimeUtc>,
    /// `DNS` or `OPERATOR`.
    pub verified_by: Option<String>,
    pub last_checked_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    /// A verified record first found missing (it lapses after a grace period).
    pub missing_since: Option<DateTimeUtc>,
    /// When the background check looks next; `None`: never (failed or vouched for).
    pub next_check_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

/// The stored status of a verified domain (rules elsewhere compare with it in SQL).
pub const VERIFIED: &str = "VERIFIED";

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
