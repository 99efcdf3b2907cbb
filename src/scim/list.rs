//! List and search requests: `filter`, `sortBy`, `sortOrder`, `startIndex`, `count`,
//! `attributes`, `excludedAttributes`, from the query string (GET) or a SearchRequest body
//! (POST …/.search), and the ListResponse they answer with.

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::filter::{self, AttrPath};
use crate::domain::keyset::Position;
use crate::domain::users::{DEFAULT_PAGE, ListQuery, MAX_PAGE};
use crate::scim::cursor;
use crate::scim::json_out::JsonOut;
use crate::scim::resource::{LIST_RESPONSE, Projection, find_key};
use crate::scim::{ANSWER_BYTES, ScimError, ScimResult, respond_written};

pub struct ListParams {
    pub query: ListQuery,
    pub projection: Projection,
    /// The `cursor` sent (empty for a first cursor page); `None` pages by `startIndex`.
    pub(super) cursor_token: Option<String>,
    /// Filter and sort as sent: what a cursor is bound to (made only for a cursor request).
    shape: String,
}

/// How a list answer pages: by index, or by cursors (RFC 9865).
pub enum Paging {
    Index(u64),
    Cursor {
        next: Option<String>,
        previous: Option<String>,
    },
}

fn number(value: Option<&str>, name: &str) -> ScimResult<Option<i64>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, not {v:?}"))),
    }
}

impl ListParams {
    #[allow(clippy::too_many_arguments)]
    fn build(
        filter: Option<&str>,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
        start_index: Option<i64>,
        count: Option<i64>,
        cursor: Option<&str>,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> ScimResult<ListParams> {
        if cursor.is_some() && start_index.is_some() {
            return Err(ScimError::invalid_value(
                "page either by startIndex or by cursor, not both",
            ));
        }
        let shape = if cursor.is_some() {
            format!(
                "{}\n{}\n{}",
                filter.unwrap_or("").trim(),
                sort_by.unwrap_or("").trim(),
                sort_order.unwrap_or("").trim().to_ascii_lowercase()
            )
        } else {
            String::new()
        };
        let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => Some(filter::parse(f)?),
            None => None,
        };
        let sort_by = match sort_by.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Some(AttrPath::parse(s).ok_or_else(|| {
                ScimError::invalid_value(format!("sortBy {s:?} is not an attribute path"))
            })?),
            None => None,
        };
        let descending = match sort_order.map(str::trim) {
            None | Some("") => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be ascending or descending, not {o:?}"
                )));
            }
        };
        // RFC 7644 §3.4.2.4: startIndex below 1 means 1; a negative count means 0.
        let start_index = start_index.unwrap_or(1).max(1) as u64;
        let count = count
            .map(|c| c.clamp(0, MAX_PAGE as i64) as u64)
            .unwrap_or(DEFAULT_PAGE);
        Ok(ListParams {
            query: ListQuery {
                filter,
                sort_by,
                descending,
                start_index,
                count,
                cursor: None,
            },
            projection: Projection::parse(attributes, excluded),
            cursor_token: cursor.map(str::to_string),
            shape,
        })
    }

    /// For a cursor request: reads the cursor (bound to this workspace, `resource` and query) into
    /// the query, and returns the binding that makes the page's cursors.
    pub fn bind_cursor(
        &mut self,
        workspace_id: &str,
        resource: &str,
    ) -> ScimResult<Option<cursor::Binding>> {
        let Some(token) = &self.cursor_token else {
            return Ok(None);
        };
        let binding = cursor::Binding::new(workspace_id, resource, &self.shape, self.query.count);
        self.query.cursor = Some(binding.decode(token, chrono::Utc::now())?);
        Ok(Some(binding))
    }

    /// The paging of an answer holding `items`, whose positions `position` gives.
    pub fn paging_of<T>(
        &self,
        binding: Option<&cursor::Binding>,
        items: &[T],
        more: bool,
        position: impl Fn(&T) -> Position,
    ) -> Paging {
        self.paging(
            binding,
            items.first().map(&position),
            items.last().map(&position),
            more,
        )
    }

    /// The paging of an answer whose page starts at `first` and ends at `last`.
    fn paging(
        &self,
        binding: Option<&cursor::Binding>,
        first: Option<Position>,
        last: Option<Position>,
        more: bool,
    ) -> Paging {
        match (binding, &self.query.cursor) {
            (Some(binding), Some(cursor)) => {
                let (next, previous) = binding.links(cursor, first, last, more, chrono::Utc::now());
                Paging::Cursor { next, previous }
            }
            _ => Paging::Index(self.query.start_index),
        }
    }

    /// From a GET query string; parameter names are matched case-insensitively.
    pub fn from_query(params: &[(String, String)]) -> ScimResult<ListParams> {
        // The last of repeated parameters wins.
        let get = |name: &str| {
            params
                .iter()
                .rfind(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        ListParams::build(
            get("filter"),
            get("sortBy"),
            get("sortOrder"),
            number(get("startIndex"), "startIndex")?,
            number(get("count"), "count")?,
            get("cursor"),
            get("attributes"),
            get("excludedAttributes"),
        )
    }

    /// From a SearchRequest body.
    pub fn from_body(body: &Map<String, Value>) -> ScimResult<ListParams> {
        let field = |name: &str| find_key(body, name).and_then(|k| body.get(&k)).cloned();
        let text = |name: &str| -> ScimResult<Option<String>> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                // attributes may be sent as an array of paths.
                Some(Value::Array(items)) => Ok(Some(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                )),
                Some(other) => Err(ScimError::invalid_value(format!(
                    "{name} must be a string, not {other}"
                ))),
            }
        };
        let int = |name: &str| -> ScimResult<Option<i64>> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| ScimError::invalid_value(format!("{name} must be an integer"))),
                Some(Value::String(s)) => number(Some(&s), name),
                Some(other) => Err(ScimError::invalid_value(format!(
                    "{name} must be an integer, not {other}"
                ))),
            }
        };
        ListParams::build(
            text("filter")?.as_deref(),
            text("sortBy")?.as_deref(),
            text("sortOrder")?.as_deref(),
            int("startIndex")?,
            int("count")?,
            text("cursor")?.as_deref(),
            text("attributes")?.as_deref(),
            text("excludedAttributes")?.as_deref(),
        )
    }
}

/// A ListResponse. With `count=0` only the totals, no `Resources`.
pub fn list_response<T: Serialize>(
    total: u64,
    query: &ListQuery,
    paging: Paging,
    resources: Vec<T>,
) -> Response {
    list_response_with(total, query, paging, resources.len(), |json| {
        for resource in &resources {
            json.element();
            json.serde(resource);
        }
    })
}

/// A ListResponse whose `items` resources `write_items` writes, each as an array element.
pub fn list_response_with(
    total: u64,
    query: &ListQuery,
    paging: Paging,
    items: usize,
    write_items: impl FnOnce(&mut JsonOut),
) -> Response {
    let mut out = Vec::with_capacity(ANSWER_BYTES * (items + 1));
    let mut json = JsonOut::new(&mut out);
    json.open('{');
    json.key("schemas");
    json.open('[');
    json.element();
    json.string(LIST_RESPONSE);
    json.close(']');
    json.key("totalResults");
    json.number(total);
    match paging {
        Paging::Index(start_index) => {
            json.key("startIndex");
            json.number(start_index);
        }
        Paging::Cursor { next, previous } => {
            if let Some(next) = next {
                json.key("nextCursor");
                json.string(&next);
            }
            if let Some(previous) = previous {
                json.key("previousCursor");
                json.string(&previous);
            }
        }
    }
    json.key("itemsPerPage");
    json.number(items);
    if query.count > 0 {
        json.key("Resources");
        json.open('[');
        write_items(&mut json);
        json.close(']');
    }
    json.close('}');
    respond_written(StatusCode::OK, out, HeaderMap::new())
}

/// Query parameters in the order sent (a list: no hashing for the two or three a request has).
pub type QueryParams = Query<Vec<(String, String)>>;
