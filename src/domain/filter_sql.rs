//! SCIM filters as SQL: each attribute maps to an indexed column (or an EXISTS over an indexed
//! child table), case rules follow the schema — case-insensitive attributes compare lower-cased
//! `*_key` columns or `LOWER(col)`, `caseExact` ones compare as stored. Nothing is evaluated in
//! memory. `LIKE` is case-sensitive on both databases (SQLite runs with `case_sensitive_like`).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query, SimpleExpr};
use sea_orm::{ColumnTrait, DbBackend, EntityName};

use crate::domain::attributes::{self, Attribute, Child, Compare, Resource, Stored};
use crate::domain::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::domain::{Error, Result};
use crate::entities::{group, group_member, member, member_email};

/// The SCIM core schema URNs an attribute path may be prefixed with.
pub use crate::domain::attributes::{GROUP_URN as GROUP_SCHEMA, USER_URN as USER_SCHEMA};

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidFilter(reason.into())
}

/// How an attribute is stored and compared.
#[derive(Clone)]
enum Field {
    /// An attribute kept in the JSON document: compared as text, case-insensitively.
    Json(SimpleExpr),
    /// A string column compared as stored.
    Exact(ColumnRef),
    /// A column that already holds the lower-cased value: compare with the lower-cased operand.
    Key(ColumnRef),
    /// A string column compared case-insensitively through `LOWER()`.
    Folded(ColumnRef),
    Bool(ColumnRef),
    Time(ColumnRef),
}

/// A column reference, cheap to copy: (table, column).
#[derive(Clone, Copy)]
struct ColumnRef {
    table: &'static str,
    column: &'static str,
}

fn col<C: ColumnTrait>(c: C) -> ColumnRef {
    ColumnRef {
        table: C::EntityName::default().table_name(),
        column: c.as_str(),
    }
}

impl ColumnRef {
    fn expr(self) -> SimpleExpr {
        Expr::col((
            sea_orm::sea_query::Alias::new(self.table),
            sea_orm::sea_query::Alias::new(self.column),
        ))
    }
}

/// `value` with LIKE's wildcards (`%`, `_`) and the escape character escaped by a backslash.
pub(crate) fn like_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn text_operand(path: &AttrPath, value: &CompValue) -> Result<Option<String>> {
    match value {
        CompValue::Str(s) => Ok(Some(s.clone())),
        // Lenient: an unquoted number compared with a string attribute is its text.
        CompValue::Number(n) => Ok(Some(n.to_string())),
        CompValue::Null => Ok(None),
        CompValue::Bool(_) => Err(invalid(format!(
            "{path} is a string; compare it with a string"
        ))),
    }
}

fn compare_text(
    column: SimpleExpr,
    operand: Option<String>,
    op: CompareOp,
    path: &AttrPath,
) -> Result<SimpleExpr> {
    let Some(v) = operand else {
        return match op {
            CompareOp::Eq => Ok(column.is_null()),
            CompareOp::Ne => Ok(column.is_not_null()),
            _ => Err(invalid(format!("{path}: only eq and ne compare with null"))),
        };
    };
    Ok(match op {
        CompareOp::Eq => column.eq(v),
        CompareOp::Ne => column.clone().ne(v).or(column.is_null()),
        CompareOp::Co => column.like(LikeExpr::new(format!("%{}%", like_escape(&v))).escape('\\')),
        CompareOp::Sw => column.like(LikeExpr::new(format!("{}%", like_escape(&v))).escape('\\')),
        CompareOp::Ew => column.like(LikeExpr::new(format!("%{}", like_escape(&v))).escape('\\')),
        CompareOp::Gt => column.gt(v),
        CompareOp::Ge => column.gte(v),
        CompareOp::Lt => column.lt(v),
        CompareOp::Le => column.lte(v),
    })
}

fn compare(field: Field, path: &AttrPath, op: CompareOp, value: &CompValue) -> Result<SimpleExpr> {
    match field {
        Field::Exact(c) => compare_text(c.expr(), text_operand(path, value)?, op, path),
        Field::Key(c) => compare_text(
            c.expr(),
            text_operand(path, value)?.map(|v| v.to_lowercase()),
            op,
            path,
        ),
        Field::Json(e) => compare_text(
            Func::lower(e).into(),
            text_operand(path, value)?.map(|v| v.to_lowercase()),
            op,
            path,
        ),
        Field::Folded(c) => compare_text(
            Func::lower(c.expr()).into(),
            text_operand(path, value)?.map(|v| v.to_lowercase()),
            op,
            path,
        ),
        Field::Bool(c) => {
            let b = match value {
                CompValue::Bool(b) => *b,
                // Entra sends booleans as strings.
                CompValue::Str(s) if s.eq_ignore_ascii_case("true") => true,
                CompValue::Str(s) if s.eq_ignore_ascii_case("false") => false,
                _ => {
                    return Err(invalid(format!(
                        "{path} is a boolean; compare it with true or false"
                    )));
                }
            };
            match op {
                CompareOp::Eq => Ok(c.expr().eq(b)),
                CompareOp::Ne => Ok(c.expr().ne(b)),
                _ => Err(invalid(format!(
                    "{path} is a boolean: only eq and ne apply"
                ))),
            }
        }
        Field::Time(c) => {
            let CompValue::Str(s) = value else {
                return Err(invalid(format!(
                    "{path} is a dateTime; compare it with an RFC 3339 string"
                )));
            };
            let at: DateTime<Utc> = DateTime::parse_from_rfc3339(s)
                .map_err(|_| invalid(format!("{s:?} is not an RFC 3339 dateTime")))?
                .with_timezone(&Utc);
            let column = c.expr();
            match op {
                CompareOp::Eq => Ok(column.eq(at)),
                CompareOp::Ne => Ok(column.ne(at)),
                CompareOp::Gt => Ok(column.gt(at)),
                CompareOp::Ge => Ok(column.gte(at)),
                CompareOp::Lt => Ok(column.lt(at)),
                CompareOp::Le => Ok(column.lte(at)),
                _ => Err(invalid(format!(
                    "{path} is a dateTime: co, sw and ew do not apply"
                ))),
            }
        }
    }
}

fn present(field: Field) -> SimpleExpr {
    match field {
        Field::Exact(c) | Field::Key(c) | Field::Folded(c) => {
            c.expr().is_not_null().and(c.expr().ne(""))
        }
        Field::Bool(c) | Field::Time(c) => c.expr().is_not_null(),
        Field::Json(e) => e.clone().is_not_null().and(e.ne("")),
    }
}

fn check_urn(path: &AttrPath, core: &str) -> Result<()> {
    match &path.urn {
        Some(urn) if !urn.eq_ignore_ascii_case(core) => {
            Err(invalid(format!("filtering on {path} is not supported")))
        }
        _ => Ok(()),
    }
}

/// Which table a filter is evaluated against.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    User,
    Group,
    UserEmails,
    UserGroups,
    UserRoles,
    GroupMembers,
}

impl Scope {
    /// The table a scope's columns are in.
    fn table(self) -> &'static str {
        match self {
            Scope::User | Scope::UserRoles => "members",
            Scope::Group => "groups",
            Scope::UserEmails => "member_emails",
            Scope::UserGroups | Scope::GroupMembers => "group_members",
        }
    }

    /// The multi-valued attribute a child scope holds the elements of.
    fn parent(self) -> Option<&'static Attribute> {
        let (resource, name) = match self {
            Scope::User | Scope::Group => return None,
            Scope::UserEmails => (Resource::User, "emails"),
            Scope::UserGroups => (Resource::User, "groups"),
            Scope::UserRoles => (Resource::User, "roles"),
            Scope::GroupMembers => (Resource::Group, "members"),
        };
        attributes::find(resource.schema().attributes, name)
    }
}

/// The column an attribute is stored in, as the attribute table says, and how it compares.
fn field(scope: Scope, path: &AttrPath) -> Option<Field> {
    let stored = match scope {
        Scope::User | Scope::Group => {
            let resource = if scope == Scope::User {
                Resource::User
            } else {
                Resource::Group
            };
            let (attribute, sub) = resource.attribute(path)?;
            // A sub-attribute of a multi-valued attribute is in its child table.
            if matches!(attribute.stored, Stored::Child(_)) {
                return None;
            }
            sub.unwrap_or(attribute).stored
        }
        // In a child scope the path names a sub-attribute of its multi-valued parent.
        child => {
            if path.sub.is_some() || path.urn.is_some() {
                return None;
            }
            child.parent()?.sub(&path.name)?.stored
        }
    };
    let Stored::Column(column, compare) = stored else {
        return None;
    };
    let column = ColumnRef {
        table: scope.table(),
        column,
    };
    Some(match compare {
        Compare::Exact => Field::Exact(column),
        Compare::Key => Field::Key(column),
        Compare::Folded => Field::Folded(column),
        Compare::Bool => Field::Bool(column),
        Compare::Time => Field::Time(column),
    })
}

/// Any other attribute of a user or group is in its JSON document: `title`, `name.formatted`,
/// `urn:…:enterprise:2.0:User:department`. Read in SQL (`json_extract` / `jsonb_extract_path_text`)
/// within the workspace's rows; keys match as the IdP sent them.
fn json_field(scope: Scope, path: &AttrPath, backend: DbBackend) -> Option<Field> {
    let table = match scope {
        Scope::User => "members",
        Scope::Group => "groups",
        _ => return None,
    };
    let mut keys: Vec<String> = Vec::new();
    if let Some(urn) = &path.urn {
        keys.push(urn.clone());
    }
    keys.push(path.name.clone());
    keys.extend(path.sub.clone());
    // Names are letters, digits, `_`, `-`, `$`, and URNs add `:` and `.`: nothing to escape.
    if keys.iter().any(|k| k.contains('"') || k.contains('\\')) {
        return None;
    }
    let expr = match backend {
        DbBackend::Postgres => {
            // PostgreSQL custom expressions number their own placeholders.
            let placeholders = (1..=keys.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            Expr::cust_with_values(
                format!(
                    "jsonb_extract_path_text(\"{table}\".\"attributes\"::jsonb, {placeholders})"
                ),
                keys,
            )
        }
        _ => {
            let json_path = format!(
                "${}",
                keys.iter().map(|k| format!(".\"{k}\"")).collect::<String>()
            );
            Expr::cust_with_values(
                format!("json_extract(\"{table}\".\"attributes\", ?)"),
                [json_path],
            )
        }
    };
    Some(Field::Json(expr))
}

/// EXISTS over a user's e-mails / group memberships, or over a group's members.
fn exists(scope: Scope, inner: SimpleExpr) -> SimpleExpr {
    let mut q = Query::select();
    q.expr(Expr::val(1));
    match scope {
        Scope::UserEmails => {
            q.from(member_email::Entity).and_where(
                Expr::col((member_email::Entity, member_email::Column::MemberId))
                    .equals((member::Entity, member::Column::Id)),
            );
        }
        Scope::UserGroups => {
            q.from(group_member::Entity).and_where(
                Expr::col((group_member::Entity, group_member::Column::MemberId))
                    .equals((member::Entity, member::Column::Id)),
            );
        }
        Scope::GroupMembers => {
            q.from(group_member::Entity).and_where(
                Expr::col((group_member::Entity, group_member::Column::GroupId))
                    .equals((group::Entity, group::Column::Id)),
            );
        }
        _ => unreachable!("exists over a child scope only"),
    }
    q.and_where(inner);
    Expr::exists(q.to_owned())
}

/// The child scope of a multi-valued attribute of `scope`, if it is one (`email` is Datasaur's
/// Okta set-up's name for the e-mails).
fn multi_valued(scope: Scope, path: &AttrPath) -> Option<Scope> {
    let resource = match scope {
        Scope::User => Resource::User,
        Scope::Group => Resource::Group,
        _ => return None,
    };
    if scope == Scope::User && path.name.eq_ignore_ascii_case("email") {
        return Some(Scope::UserEmails);
    }
    let plain = AttrPath {
        urn: path.urn.clone(),
        name: path.name.clone(),
        sub: None,
    };
    match resource.attribute(&plain)?.0.stored {
        Stored::Child(Child::Emails) => Some(Scope::UserEmails),
        Stored::Child(Child::Groups) => Some(Scope::UserGroups),
        Stored::Child(Child::Roles) => Some(Scope::UserRoles),
        Stored::Child(Child::Members) => Some(Scope::GroupMembers),
        _ => None,
    }
}

fn wrap(child: Scope, inner: SimpleExpr) -> SimpleExpr {
    match child {
        // A member has at most one direct role, stored on the member row itself.
        Scope::UserRoles => inner,
        other => exists(other, inner),
    }
}

fn translate(scope: Scope, filter: &Filter, backend: DbBackend) -> Result<SimpleExpr> {
    match filter {
        Filter::And(a, b) => Ok(translate(scope, a, backend)?.and(translate(scope, b, backend)?)),
        Filter::Or(a, b) => Ok(translate(scope, a, backend)?.or(translate(scope, b, backend)?)),
        // `NOT x` is NULL where x is (a comparison with a missing attribute), which would leave
        // such rows out of both `x` and `not x`; `x IS NOT TRUE` keeps them in the negation,
        // so `not (displayName eq "a")` selects what `displayName ne "a"` does.
        Filter::Not(a) => {
            // The builders' placeholder for a sub-expression in custom SQL differs by backend.
            let is_not_true = match backend {
                DbBackend::Postgres => "($1) IS NOT TRUE",
                _ => "(?) IS NOT TRUE",
            };
            Ok(Expr::cust_with_expr(
                is_not_true,
                translate(scope, a, backend)?,
            ))
        }
        Filter::ValuePath { path, filter } => {
            let Some(child) = multi_valued(scope, path) else {
                return Err(invalid(format!(
                    "{path} is not a multi-valued attribute that can be filtered"
                )));
            };
            Ok(wrap(child, translate(child, filter, backend)?))
        }
        Filter::Compare { path, .. } | Filter::Present(path) => {
            if matches!(scope, Scope::User | Scope::Group) {
                let core = if scope == Scope::User {
                    USER_SCHEMA
                } else {
                    GROUP_SCHEMA
                };
                if check_urn(path, core).is_err() {
                    // An extension attribute, in the JSON document (an IdP's own extensions are
                    // kept and filterable); a schema of the other resource type names nothing here.
                    let resource = if scope == Scope::User {
                        Resource::User
                    } else {
                        Resource::Group
                    };
                    let urn = path.urn.as_deref().unwrap_or_default();
                    if attributes::belongs_elsewhere(urn, resource) {
                        return Err(invalid(format!(
                            "filtering on {path} is not supported: {urn} is not a schema of this resource type"
                        )));
                    }
                    let field = json_field(scope, path, backend)
                        .ok_or_else(|| invalid(format!("filtering on {path} is not supported")))?;
                    return match filter {
                        Filter::Compare { op, value, .. } => compare(field, path, *op, value),
                        _ => Ok(present(field)),
                    };
                }
                if let Some(child) = multi_valued(scope, path) {
                    // `emails eq "x"`, `emails.value eq "x"`, `members.value eq "id"`: the value
                    // sub-attribute of some element.
                    let sub = path.sub.clone().unwrap_or_else(|| "value".into());
                    let sub_path = AttrPath {
                        urn: None,
                        name: sub,
                        sub: None,
                    };
                    let inner = match filter {
                        Filter::Compare { op, value, .. } => Filter::Compare {
                            path: sub_path,
                            op: *op,
                            value: value.clone(),
                        },
                        _ => Filter::Present(sub_path),
                    };
                    let expr = translate(child, &inner, backend)?;
                    // `email eq "x"` (Datasaur's Okta set-up): the userName or any e-mail.
                    if scope == Scope::User && path.is("email", None) {
                        let user_name = translate(
                            Scope::User,
                            &match filter {
                                Filter::Compare { op, value, .. } => Filter::Compare {
                                    path: AttrPath {
                                        urn: None,
                                        name: "userName".into(),
                                        sub: None,
                                    },
                                    op: *op,
                                    value: value.clone(),
                                },
                                _ => Filter::Present(AttrPath {
                                    urn: None,
                                    name: "userName".into(),
                                    sub: None,
                                }),
                            },
                            backend,
                        )?;
                        return Ok(user_name.or(wrap(child, expr)));
                    }
                    return Ok(wrap(child, expr));
                }
            }
            let Some(field) = field(scope, path).or_else(|| json_field(scope, path, backend))
            else {
                return Err(invalid(format!("filtering on {path} is not supported")));
            };
            match filter {
                Filter::Compare { op, value, .. } => compare(field, path, *op, value),
                _ => Ok(present(field)),
            }
        }
    }
}

/// Most comparisons one filter may make with the values of multi-valued attributes (`emails`,
/// `groups`, `members`, inside or outside a `[…]` value filter). Each is a pass over every
/// resource's values that no index answers (`co` and `ew` least of all): 210 `emails co` terms,
/// within the filter's length limit, cost 38 s of CPU over 20,000 users. IdPs send one or two.
pub const MAX_CHILD_COMPARISONS: usize = 16;

/// The comparisons `filter` makes with multi-valued attributes' values (a member's direct role,
/// stored on its row, is not one).
fn child_comparisons(scope: Scope, filter: &Filter) -> usize {
    fn leaves(filter: &Filter) -> usize {
        match filter {
            Filter::And(a, b) | Filter::Or(a, b) => leaves(a) + leaves(b),
            Filter::Not(a) => leaves(a),
            Filter::ValuePath { filter, .. } => leaves(filter),
            Filter::Compare { .. } | Filter::Present(_) => 1,
        }
    }
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            child_comparisons(scope, a) + child_comparisons(scope, b)
        }
        Filter::Not(a) => child_comparisons(scope, a),
        Filter::ValuePath { path, filter } => match multi_valued(scope, path) {
            Some(Scope::UserRoles) | None => 0,
            Some(_) => leaves(filter),
        },
        Filter::Compare { path, .. } | Filter::Present(path) => match multi_valued(scope, path) {
            Some(Scope::UserRoles) | None => 0,
            Some(_) => 1,
        },
    }
}

/// Refuses a filter that asks for more than `MAX_CHILD_COMPARISONS`, before any SQL is built.
fn within_cost(scope: Scope, filter: &Filter) -> Result<()> {
    let n = child_comparisons(scope, filter);
    if n > MAX_CHILD_COMPARISONS {
        return Err(invalid(format!(
            "the filter compares multi-valued attributes (emails, groups, members) {n} times; at most {MAX_CHILD_COMPARISONS} are allowed in one filter"
        )));
    }
    Ok(())
}

/// The condition selecting the members a filter matches.
pub fn users(filter: &Filter, backend: DbBackend) -> Result<SimpleExpr> {
    within_cost(Scope::User, filter)?;
    translate(Scope::User, filter, backend)
}

/// The condition selecting the groups a filter matches.
pub fn groups(filter: &Filter, backend: DbBackend) -> Result<SimpleExpr> {
    within_cost(Scope::Group, filter)?;
    translate(Scope::Group, filter, backend)
}

/// The column a user list sorts by, for `sortBy`.
pub fn user_sort(path: &AttrPath) -> Result<SimpleExpr> {
    check_urn(path, USER_SCHEMA)
        .map_err(|_| Error::invalid("sortBy", format!("sorting by {path} is not supported")))?;
    match field(Scope::User, path) {
        Some(Field::Exact(c) | Field::Key(c) | Field::Bool(c) | Field::Time(c)) => Ok(c.expr()),
        Some(Field::Folded(c)) => Ok(Func::lower(c.expr()).into()),
        Some(Field::Json(e)) => Ok(Func::lower(e).into()),
        None if path.is("emails", None) || path.is("emails", Some("value")) => {
            Ok(col(member::Column::UserNameKey).expr())
        }
        None => Err(Error::invalid(
            "sortBy",
            format!("sorting by {path} is not supported"),
        )),
    }
}

/// The column a group list sorts by, for `sortBy`.
pub fn group_sort(path: &AttrPath) -> Result<SimpleExpr> {
    check_urn(path, GROUP_SCHEMA)
        .map_err(|_| Error::invalid("sortBy", format!("sorting by {path} is not supported")))?;
    match field(Scope::Group, path) {
        Some(Field::Exact(c) | Field::Key(c) | Field::Bool(c) | Field::Time(c)) => Ok(c.expr()),
        Some(Field::Folded(c)) => Ok(Func::lower(c.expr()).into()),
        Some(Field::Json(e)) => Ok(Func::lower(e).into()),
        None => Err(Error::invalid(
            "sortBy",
            format!("sorting by {path} is not supported"),
        )),
    }
}
