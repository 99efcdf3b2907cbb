//! Members, groups and activity of the workspace for the settings page, and the live activity
//! stream.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use async_graphql::{Context, Enum, ErrorExtensions, ID, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;

use crate::domain;
use crate::domain::admin::{self, Principal};
use crate::domain::directory::Page;
use crate::domain::directory::{self, ActivityView, GroupView, MemberView};
use crate::domain::roles::RoleSource as DomainRoleSource;
use crate::graphql::caller::principal;
use crate::graphql::error::GqlResultExt;
use crate::graphql::role::GqlRole;
use crate::state::AppState;

/// How often the live activity stream looks for new entries (also those another replica wrote).
pub const ACTIVITY_POLL: Duration = Duration::from_millis(500);

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// Pass as `after` for the next page.
    pub end_cursor: Option<String>,
}

fn page_info<T>(page: &Page<T>) -> PageInfo {
    PageInfo {
        has_next_page: page.has_next,
        end_cursor: page.end_cursor.clone(),
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum RoleSourceKind {
    /// A group the member belongs to, through the mapping.
    Group,
    /// The role the IdP set on the member (`roles`).
    Direct,
    /// The workspace owner is always an admin.
    Owner,
    /// Nothing else gives a role.
    Default,
}

#[derive(SimpleObject)]
pub struct RoleSource {
    pub kind: RoleSourceKind,
    /// The group, for `GROUP` sources.
    pub group_name: Option<String>,
    pub role: GqlRole,
}

pub struct Member(pub MemberView);

#[Object]
impl Member {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn user_name(&self) -> &str {
        &self.0.user_name
    }
    async fn given_name(&self) -> Option<&str> {
        self.0.given_name.as_deref()
    }
    async fn family_name(&self) -> Option<&str> {
        self.0.family_name.as_deref()
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    /// The effective role.
    async fn role(&self) -> GqlRole {
        self.0.role.into()
    }
    /// Where roles come from, the deciding source first.
    async fn role_sources(&self) -> Vec<RoleSource> {
        self.0
            .sources
            .iter()
            .map(|(source, role)| RoleSource {
                kind: match source {
                    DomainRoleSource::Group(_) => RoleSourceKind::Group,
                    DomainRoleSource::Direct => RoleSourceKind::Direct,
                    DomainRoleSource::Owner => RoleSourceKind::Owner,
                    DomainRoleSource::Default => RoleSourceKind::Default,
                },
                group_name: source.group_name().map(str::to_string),
                role: (*role).into(),
            })
            .collect()
    }
}

#[derive(SimpleObject)]
pub struct MemberConnection {
    pub nodes: Vec<Member>,
    pub total_count: u64,
    pub page_info: PageInfo,
}

pub struct Group(pub GroupView);

#[Object]
impl Group {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    async fn member_count(&self) -> u64 {
        self.0.member_count
    }
    /// The role the mapping gives this group's members; null when no row maps it.
    async fn mapped_role(&self) -> Option<GqlRole> {
        self.0.mapped_role.map(Into::into)
    }
}

#[derive(SimpleObject)]
pub struct GroupConnection {
    pub nodes: Vec<Group>,
    pub total_count: u64,
    pub page_info: PageInfo,
}

pub struct ActivityEntry(pub ActivityView);

#[Object]
impl ActivityEntry {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// `admin <email>`, or `key <prefix> (<client>)` for SCIM.
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    /// `user.create`, `group.update`, `mapping.replace`, `scim.request_failed`, ...
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// The effect in words.
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    /// HTTP status of the request (200 for settings changes).
    async fn status(&self) -> i32 {
        self.0.status
    }
    async fn succeeded(&self) -> bool {
        self.0.succeeded
    }
    async fn method(&self) -> Option<&str> {
        self.0.method.as_deref()
    }
    async fn path(&self) -> Option<&str> {
        self.0.path.as_deref()
    }
    async fn latency_ms(&self) -> Option<i32> {
        self.0.latency_ms
    }
    /// How many times this happened: one client's repeated sign-in refusals within a minute are
    /// one entry.
    async fn occurrences(&self) -> i32 {
        self.0.occurrences
    }
    /// The client address of a sign-in route's entry (behind a listed proxy, the forwarded one).
    async fn client(&self) -> Option<&str> {
        self.0.client.as_deref()
    }
    async fn resource_type(&self) -> Option<&str> {
        self.0.resource_type.as_deref()
    }
    async fn resource_id(&self) -> Option<&str> {
        self.0.resource_id.as_deref()
    }
}

#[derive(SimpleObject)]
pub struct ActivityConnection {
    pub nodes: Vec<ActivityEntry>,
    pub total_count: u64,
    pub page_info: PageInfo,
}

pub async fn members(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    search: Option<String>,
) -> async_graphql::Result<MemberConnection> {
    let state = ctx.data::<AppState>()?;
    let page = directory::members(
        &state.store,
        principal(ctx)?,
        first,
        after.as_deref(),
        search.as_deref(),
    )
    .await
    .gql()?;
    let info = page_info(&page);
    Ok(MemberConnection {
        total_count: page.total,
        page_info: info,
        nodes: page.nodes.into_iter().map(Member).collect(),
    })
}

pub async fn groups(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    search: Option<String>,
) -> async_graphql::Result<GroupConnection> {
    let state = ctx.data::<AppState>()?;
    let page = directory::groups(
        &state.store,
        principal(ctx)?,
        first,
        after.as_deref(),
        search.as_deref(),
    )
    .await
    .gql()?;
    let info = page_info(&page);
    Ok(GroupConnection {
        total_count: page.total,
        page_info: info,
        nodes: page.nodes.into_iter().map(Group).collect(),
    })
}

pub async fn activity(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<ActivityConnection> {
    let state = ctx.data::<AppState>()?;
    let page = directory::activity(&state.store, principal(ctx)?, first, after.as_deref())
        .await
        .gql()?;
    let info = page_info(&page);
    Ok(ActivityConnection {
        total_count: page.total,
        page_info: info,
        nodes: page.nodes.into_iter().map(ActivityEntry).collect(),
    })
}

pub struct SubscriptionRoot;

/// How stale the subscriber's access may be while no entry arrives: it is read again this often
/// (the same bound as a revoked API key's on other replicas), and before every batch of entries
/// is delivered.
pub const ACCESS_RECHECK: Duration = Duration::from_secs(5);

/// Entries fetched but not yet cleared for delivery, at most (the poll pauses beyond it).
const MAX_PENDING: usize = 100;

/// Where a live activity stream stands.
struct Follow {
    state: AppState,
    principal: Principal,
    /// The newest entry fetched.
    last: i64,
    /// Fetched after the last access check: delivered only once a later check passes.
    fetched: VecDeque<ActivityView>,
    /// Cleared by a check made after they were fetched.
    ready: VecDeque<ActivityView>,
    checked_at: Instant,
    ended: bool,
}

impl Follow {
    /// The next item: an entry, or the error that ends the stream when the subscriber's access
    /// has ended (`UNAUTHENTICATED`: token revoked or expired, session ended or expired, member
    /// deactivated; `FORBIDDEN`: no longer an admin), after which nothing more is sent.
    ///
    /// Entries are fetched first and checked after: an entry written after the access ended is
    /// always fetched after it ended, so the check that clears it sees the end.
    async fn next(mut self) -> Option<(async_graphql::Result<ActivityEntry>, Follow)> {
        loop {
            if let Some(entry) = self.ready.pop_front() {
                return Some((Ok(ActivityEntry(entry)), self));
            }
            if self.ended {
                return None;
            }
            tokio::time::sleep(ACTIVITY_POLL).await;
            if self.fetched.len() < MAX_PENDING {
                match directory::activity_since(
                    &self.state.store,
                    &self.principal.workspace_id,
                    self.last,
                    MAX_PENDING as u64,
                )
                .await
                {
                    Ok(entries) => {
                        if let Some(newest) = entries.last() {
                            self.last = newest.id;
                        }
                        self.fetched.extend(entries);
                    }
                    Err(e) => tracing::warn!(error = %e, "activity stream poll failed"),
                }
            }
            if self.fetched.is_empty() && self.checked_at.elapsed() < ACCESS_RECHECK {
                continue;
            }
            match admin::recheck(&self.state.store, &self.principal, true).await {
                Ok(()) => {
                    self.checked_at = Instant::now();
                    self.ready.append(&mut self.fetched);
                }
                Err(e @ (domain::Error::Unauthenticated | domain::Error::Forbidden(_))) => {
                    self.ended = true;
                    self.fetched.clear();
                    return Some((Err(e.extend()), self));
                }
                // Access can't be confirmed now: nothing is delivered until it is.
                Err(e) => tracing::warn!(error = %e, "activity stream access check failed"),
            }
        }
    }
}

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// New activity entries of the workspace as they are written, by this replica or another
    /// (within half a second). The stream ends with an `UNAUTHENTICATED` or `FORBIDDEN` error
    /// when the subscriber's access ends (token revoked or expired, session ended or expired,
    /// member deactivated or no longer an admin): checked before every delivery, and every 5
    /// seconds while no entry comes.
    async fn activity(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<ActivityEntry>> + use<>>
    {
        let state = ctx.data::<AppState>()?.clone();
        let principal = principal(ctx)?.clone();
        let last = directory::follow_activity(&state.store, &principal)
            .await
            .gql()?;
        let follow = Follow {
            state,
            principal,
            last,
            fetched: VecDeque::new(),
            ready: VecDeque::new(),
            checked_at: Instant::now(),
            ended: false,
        };
        Ok(futures_util::stream::unfold(follow, Follow::next))
    }
}
