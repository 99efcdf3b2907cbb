//! Cursor paging (RFC 9865) as keyset positions: a page continues after (or before) the row a
//! cursor names, in the list's order (sort key, then creation time and id), so a deep page costs
//! what the first does. The cursor row's sort value is read by the database from that row with the
//! same expression the order uses, so text folding, JSON values and NULLs compare exactly as they
//! sort.

use chrono::{DateTime, Utc};
use sea_orm::DbBackend;

use crate::db::rows::{Cells, Cost, Fetch, FromCells};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SimpleExpr};

/// Where a cursor page starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// The first page (an empty `cursor`).
    First,
    /// The rows after this one (`nextCursor`).
    After(Position),
    /// The rows before this one (`previousCursor`).
    Before(Position),
}

/// A row of the list: its id and creation time, the order's tie-breakers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub id: String,
    pub created_at: DateTime<Utc>,
}

impl Cursor {
    pub fn position(&self) -> Option<&Position> {
        match self {
            Cursor::First => None,
            Cursor::After(p) | Cursor::Before(p) => Some(p),
        }
    }

    /// True when the page is read against the list's order (a previous page).
    pub fn backwards(&self) -> bool {
        matches!(self, Cursor::Before(_))
    }
}

/// The columns of the table a list reads.
pub struct Table {
    pub name: &'static str,
    pub id: &'static str,
    pub created_at: &'static str,
    pub workspace_id: &'static str,
}

/// The rows that come after `at` when reading in `ascending` order (descending: before it), by
/// `sort` then creation time and id. `nulls_smallest`: NULL sorts first ascending (SQLite) or
/// last (PostgreSQL).
pub fn beyond(
    table: &Table,
    workspace_id: &str,
    sort: Option<&SimpleExpr>,
    at: &Position,
    ascending: bool,
    backend: DbBackend,
) -> SimpleExpr {
    let column = |c: &str| Expr::col((Alias::new(table.name), Alias::new(c)));
    let past = |a: SimpleExpr, b: SimpleExpr| if ascending { a.gt(b) } else { a.lt(b) };
    let tie = past(column(table.created_at), Expr::val(at.created_at)).or(column(table.created_at)
        .eq(at.created_at)
        .and(past(column(table.id), Expr::val(at.id.clone()))));
    let Some(sort) = sort else {
        return tie;
    };
    // The cursor row's sort value, from the row itself.
    let cursor_value = || -> SimpleExpr {
        SimpleExpr::SubQuery(
            None,
            Box::new(
                Query::select()
                    .expr(sort.clone())
                    .from(Alias::new(table.name))
                    .and_where(column(table.id).eq(at.id.clone()))
                    .and_where(column(table.workspace_id).eq(workspace_id))
                    .to_owned()
                    .into(),
            ),
        )
    };
    let nulls_smallest = backend == DbBackend::Sqlite;
    let nulls_first = nulls_smallest == ascending;
    let s = || sort.clone();
    let v_null = cursor_value().is_null();
    let v_set = cursor_value().is_not_null();
    let after_value = past(s(), cursor_value()).or(s().eq(cursor_value()).and(tie.clone()));
    if nulls_first {
        // NULLs come first: after a NULL, the other NULLs past the tie, then every value.
        v_null
            .and(s().is_null().and(tie).or(s().is_not_null()))
            .or(v_set.and(after_value))
    } else {
        // NULLs come last: after a NULL only NULLs past the tie; after a value, also the NULLs.
        v_null
            .and(s().is_null().and(tie))
            .or(v_set.and(after_value.or(s().is_null())))
    }
}

struct Found;

impl FromCells for Found {
    fn from_cells(_: &impl Cells) -> Result<Self, sea_orm::DbErr> {
        Ok(Found)
    }
}

/// The cursor's row must still be in the workspace: a page can't continue after a row that was
/// deleted (the client starts again).
pub async fn require_row(
    db: &impl Fetch,
    table: &Table,
    workspace_id: &str,
    at: &Position,
) -> crate::domain::Result<()> {
    let column = |c: &str| Expr::col((Alias::new(table.name), Alias::new(c)));
    let stmt = Query::select()
        .expr(Expr::val(1))
        .from(Alias::new(table.name))
        .and_where(column(table.id).eq(at.id.clone()))
        .and_where(column(table.workspace_id).eq(workspace_id))
        .limit(1)
        .to_owned();
    let found = db
        .fetch::<Found>(db.backend().build(&stmt), Cost::Point)
        .await?;
    if found.is_empty() {
        return Err(crate::domain::Error::CursorExpired(
            "the page's last resource was deleted since; start again with an empty cursor".into(),
        ));
    }
    Ok(())
}
