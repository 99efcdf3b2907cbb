//! Role resolution, the seed's rule: a member's effective role is the highest-priority role among
//! the roles mapped from every group it belongs to, its direct role if the IdP set one, and
//! `labeler` when neither gives one (admin > reviewer > labeler). The workspace's bootstrap owner
//! always counts as an admin, so no IdP can lock it out.
//!
//! `recompute` runs inside the transaction of every change that can move a role: membership, group
//! rename or delete, direct role, mapping edit, reactivation.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QuerySelect,
    RelationTrait,
};

use crate::entities::{group, group_member, group_role_mapping, member};

/// SQLite allows at most 32766 bound parameters per statement; stay well below.
const ID_CHUNK: usize = 900;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Labeler,
    Reviewer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Reviewer, Role::Labeler];

    /// The stored and SCIM form: `admin`, `reviewer`, `labeler`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Labeler => "labeler",
        }
    }

    /// The form people read: `Admin`, `Reviewer`, `Labeler`.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Reviewer => "Reviewer",
            Role::Labeler => "Labeler",
        }
    }

    /// Case-insensitive; anything else is not a role.
    pub fn parse(value: &str) -> Option<Role> {
        let value = value.trim();
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(value))
    }

    /// Reads a role column; an unknown value (never written by this code) reads as the lowest.
    pub fn from_stored(value: &str) -> Role {
        Role::parse(value).unwrap_or(Role::Labeler)
    }
}

/// Where a role comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleSource {
    /// The workspace's bootstrap owner.
    Owner,
    /// The IdP's `roles` attribute on the member.
    Direct,
    /// A group the member belongs to, by its display name, through the mapping.
    Group(String),
    /// Nothing else gives a role.
    Default,
}

impl RoleSource {
    pub fn group_name(&self) -> Option<&str> {
        match self {
            RoleSource::Group(name) => Some(name),
            _ => None,
        }
    }

    /// "via group Administrator", "as the IdP's direct role", ...
    pub fn describe(&self) -> String {
        match self {
            RoleSource::Owner => "as the workspace owner".into(),
            RoleSource::Direct => "as the IdP's direct role".into(),
            RoleSource::Group(name) => format!("via group {name}"),
            RoleSource::Default => "by default".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    pub role: Role,
    /// The source that decides the role. On a tie: owner, then direct, then the group whose name
    /// sorts first, so the answer is stable.
    pub decided_by: RoleSource,
    /// Every source that gives a role, the deciding one first.
    pub sources: Vec<(RoleSource, Role)>,
}

/// The seed's rule, as a pure function.
pub fn resolve(is_owner: bool, direct: Option<Role>, group_roles: &[(String, Role)]) -> Resolution {
    let mut sources: Vec<(RoleSource, Role)> = Vec::new();
    if is_owner {
        sources.push((RoleSource::Owner, Role::Admin));
    }
    if let Some(role) = direct {
        sources.push((RoleSource::Direct, role));
    }
    let mut groups: Vec<&(String, Role)> = group_roles.iter().collect();
    groups.sort_by_key(|g| g.0.to_lowercase());
    for (name, role) in groups {
        sources.push((RoleSource::Group(name.clone()), *role));
    }
    if sources.is_empty() {
        return Resolution {
            role: Role::Labeler,
            decided_by: RoleSource::Default,
            sources: vec![(RoleSource::Default, Role::Labeler)],
        };
    }
    // Stable sort: among equal roles the order above (owner, direct, groups by name) is kept.
    sources.sort_by_key(|s| std::cmp::Reverse(s.1));
    Resolution {
        role: sources[0].1,
        decided_by: sources[0].0.clone(),
        sources,
    }
}

/// The key a group name is matched on: trimmed and case-insensitive.
pub fn group_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A workspace's mapping, by group key.
pub type MappingTable = HashMap<String, Role>;

pub async fn load_mapping_table(
    db: &impl ConnectionTrait,
    workspace_id: &str,
) -> crate::domain::Result<MappingTable> {
    let rows = group_role_mapping::Entity::find()
        .filter(group_role_mapping::Column::WorkspaceId.eq(workspace_id))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.group_key, Role::from_stored(&row.role)))
        .collect())
}

/// A member's role before and after a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleChange {
    pub member_id: String,
    pub user_name: String,
    pub active: bool,
    pub from: Role,
    pub to: Role,
    pub decided_by: RoleSource,
}

impl RoleChange {
    /// "jane@x.org: role Reviewer → Admin via group Administrator"
    pub fn describe(&self) -> String {
        format!(
            "{}: role {} → {} {}",
            self.user_name,
            self.from.label(),
            self.to.label(),
            self.decided_by.describe()
        )
    }
}

/// What the given members' roles would be under `mappings`; only those that change are returned.
/// Costs work proportional to the members named and their groups, not to the workspace.
pub async fn plan(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    member_ids: &[String],
    mappings: &MappingTable,
) -> crate::domain::Result<Vec<RoleChange>> {
    let mut changes = Vec::new();
    for chunk in member_ids.chunks(ID_CHUNK) {
        let members = member::Entity::find()
            .filter(member::Column::Id.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
            .into_iter()
            // Checked here rather than in SQL, where it makes SQLite walk the workspace's index.
            .filter(|m| m.workspace_id == workspace_id)
            .collect::<Vec<_>>();
        let groups_of = mapped_groups(db, chunk, mappings).await?;
        for m in members {
            let direct = m.direct_role.as_deref().and_then(Role::parse);
            let groups = groups_of.get(&m.id).map(Vec::as_slice).unwrap_or(&[]);
            let resolution = resolve(m.is_owner, direct, groups);
            let from = Role::from_stored(&m.effective_role);
            if resolution.role != from {
                changes.push(RoleChange {
                    member_id: m.id,
                    user_name: m.user_name,
                    active: m.active,
                    from,
                    to: resolution.role,
                    decided_by: resolution.decided_by,
                });
            }
        }
    }
    changes.sort_by(|a, b| a.user_name.cmp(&b.user_name));
    Ok(changes)
}

/// Writes the planned changes: one UPDATE per target role and chunk, each bumping the version.
pub async fn apply(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    changes: &[RoleChange],
) -> crate::domain::Result<()> {
    let now = crate::domain::now();
    for role in Role::ALL {
        let ids: Vec<&str> = changes
            .iter()
            .filter(|c| c.to == role)
            .map(|c| c.member_id.as_str())
            .collect();
        for chunk in ids.chunks(ID_CHUNK) {
            member::Entity::update_many()
                .col_expr(member::Column::EffectiveRole, Expr::value(role.as_str()))
                .col_expr(
                    member::Column::Version,
                    Expr::col(member::Column::Version).add(1),
                )
                .col_expr(member::Column::UpdatedAt, Expr::value(now))
                .filter(member::Column::WorkspaceId.eq(workspace_id))
                .filter(member::Column::Id.is_in(chunk.iter().copied()))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

/// The mapped groups of each member (group name and the role it maps to), for `resolve`: one
/// query for the memberships of all of them. Callers pass at most a page or a chunk of ids.
pub async fn mapped_groups(
    db: &impl ConnectionTrait,
    member_ids: &[String],
    mappings: &MappingTable,
) -> crate::domain::Result<HashMap<String, Vec<(String, Role)>>> {
    let mut groups_of: HashMap<String, Vec<(String, Role)>> = HashMap::new();
    if member_ids.is_empty() {
        return Ok(groups_of);
    }
    let memberships: Vec<(String, String, String)> = group_member::Entity::find()
        .select_only()
        .column(group_member::Column::MemberId)
        .column(group::Column::DisplayName)
        .column(group::Column::NameKey)
        .join(JoinType::InnerJoin, group_member::Relation::Group.def())
        .filter(group_member::Column::MemberId.is_in(member_ids.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    for (member_id, display_name, name_key) in memberships {
        if let Some(role) = mappings.get(&name_key) {
            groups_of
                .entry(member_id)
                .or_default()
                .push((display_name, *role));
        }
    }
    Ok(groups_of)
}

/// Recomputes and stores the effective roles of the given members under the current mapping.
pub async fn recompute(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    member_ids: &[String],
) -> crate::domain::Result<Vec<RoleChange>> {
    let mappings = load_mapping_table(db, workspace_id).await?;
    let changes = plan(db, workspace_id, member_ids, &mappings).await?;
    apply(db, workspace_id, &changes).await?;
    Ok(changes)
}

/// Members of the workspace in any group whose key is one of `group_keys`.
pub async fn members_in_groups(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    group_keys: &[String],
) -> crate::domain::Result<Vec<String>> {
    let mut ids: Vec<String> = Vec::new();
    for chunk in group_keys.chunks(ID_CHUNK) {
        let found: Vec<String> = group_member::Entity::find()
            .select_only()
            .column(group_member::Column::MemberId)
            .distinct()
            .join(JoinType::InnerJoin, group_member::Relation::Group.def())
            .filter(group::Column::WorkspaceId.eq(workspace_id))
            .filter(group::Column::NameKey.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        ids.extend(found);
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Active admins of the workspace; a change must never leave none.
pub async fn count_active_admins(
    db: &impl ConnectionTrait,
    workspace_id: &str,
) -> crate::domain::Result<u64> {
    Ok(member::Entity::find()
        .filter(member::Column::WorkspaceId.eq(workspace_id))
        .filter(member::Column::Active.eq(true))
        .filter(member::Column::EffectiveRole.eq(Role::Admin.as_str()))
        .count(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(pairs: &[(&str, Role)]) -> Vec<(String, Role)> {
        pairs.iter().map(|(n, r)| (n.to_string(), *r)).collect()
    }

    #[test]
    fn seed_example_administrator_and_qa_is_admin() {
        let r = resolve(
            false,
            None,
            &groups(&[("QA", Role::Reviewer), ("Administrator", Role::Admin)]),
        );
        assert_eq!(r.role, Role::Admin);
        assert_eq!(r.decided_by, RoleSource::Group("Administrator".into()));
        assert_eq!(r.sources.len(), 2);
        assert_eq!(
            r.sources[1],
            (RoleSource::Group("QA".into()), Role::Reviewer)
        );
    }

    #[test]
    fn nothing_gives_labeler_by_default() {
        let r = resolve(false, None, &[]);
        assert_eq!(r.role, Role::Labeler);
        assert_eq!(r.decided_by, RoleSource::Default);
    }

    #[test]
    fn direct_role_counts_like_a_group() {
        assert_eq!(
            resolve(false, Some(Role::Reviewer), &[]).role,
            Role::Reviewer
        );
        let r = resolve(false, Some(Role::Admin), &groups(&[("QA", Role::Reviewer)]));
        assert_eq!((r.role, r.decided_by), (Role::Admin, RoleSource::Direct));
        let r = resolve(
            false,
            Some(Role::Labeler),
            &groups(&[("QA", Role::Reviewer)]),
        );
        assert_eq!(
            (r.role, r.decided_by),
            (Role::Reviewer, RoleSource::Group("QA".into()))
        );
    }

    #[test]
    fn owner_is_always_admin() {
        let r = resolve(
            true,
            Some(Role::Labeler),
            &groups(&[("QA", Role::Reviewer)]),
        );
        assert_eq!((r.role, r.decided_by), (Role::Admin, RoleSource::Owner));
    }

    #[test]
    fn ties_are_decided_stably() {
        let r = resolve(
            false,
            Some(Role::Admin),
            &groups(&[("b-admins", Role::Admin), ("A-admins", Role::Admin)]),
        );
        assert_eq!(r.decided_by, RoleSource::Direct);
        let r = resolve(
            false,
            None,
            &groups(&[("b-admins", Role::Admin), ("A-admins", Role::Admin)]),
        );
        assert_eq!(r.decided_by, RoleSource::Group("A-admins".into()));
    }

    // Every way a member can lose a role: each removes the deciding source.
    #[test]
    fn demotion_when_admin_group_mapping_is_removed_or_lowered() {
        let before = resolve(
            false,
            None,
            &groups(&[("Administrator", Role::Admin), ("QA", Role::Reviewer)]),
        );
        assert_eq!(before.role, Role::Admin);
        // mapping row removed: the group no longer contributes
        let removed = resolve(false, None, &groups(&[("QA", Role::Reviewer)]));
        assert_eq!(removed.role, Role::Reviewer);
        // mapping row lowered to labeler
        let lowered = resolve(
            false,
            None,
            &groups(&[("Administrator", Role::Labeler), ("QA", Role::Reviewer)]),
        );
        assert_eq!(lowered.role, Role::Reviewer);
    }

    // Leaving a group, its deletion and its renaming are tested end to end, through SCIM, in
    // tests/it/scim_groups.rs (pushed_group_members_get_the_mapped_role): each leaves the
    // member without that group's source, which is the case resolved here.
    #[test]
    fn without_a_group_source_the_direct_role_or_the_default_decides() {
        let r = resolve(false, None, &[]);
        assert_eq!(r.role, Role::Labeler);
        let r = resolve(false, Some(Role::Reviewer), &[]);
        assert_eq!((r.role, r.decided_by), (Role::Reviewer, RoleSource::Direct));
    }

    #[test]
    fn demotion_when_direct_role_is_lowered_or_cleared() {
        assert_eq!(resolve(false, Some(Role::Admin), &[]).role, Role::Admin);
        assert_eq!(resolve(false, Some(Role::Labeler), &[]).role, Role::Labeler);
        assert_eq!(resolve(false, None, &[]).role, Role::Labeler);
    }

    #[test]
    fn role_parse_is_case_insensitive_and_strict() {
        assert_eq!(Role::parse("ADMIN"), Some(Role::Admin));
        assert_eq!(Role::parse(" Reviewer "), Some(Role::Reviewer));
        assert_eq!(Role::parse("labeler"), Some(Role::Labeler));
        assert_eq!(Role::parse("owner"), None);
        assert_eq!(Role::parse(""), None);
    }

    #[test]
    fn group_keys_ignore_case_and_surrounding_space() {
        assert_eq!(group_key("  Administrator "), group_key("administrator"));
        assert_ne!(group_key("QA team"), group_key("QAteam"));
    }
}
