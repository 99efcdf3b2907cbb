//! Statements built once and reused. A query builder's SQL depends on the values only through
//! their positions, so a hot statement is built once per backend with marker values, and each
//! request's values go where the markers landed: the builder's work and allocations are spared
//! on the reads IdPs send most (measured in `domain::users::reads`: 37% of a lookup).

use std::sync::OnceLock;

use sea_orm::{DbBackend, Statement, Value};

/// A statement's SQL and, for each of its parameters, which request value goes there.
pub struct Template<K> {
    sql: String,
    slots: Vec<Slot<K>>,
}

enum Slot<K> {
    /// A value of the request, of this kind.
    Param(K),
    /// A value the statement always has (a constant of the query).
    Fixed(Value),
}

impl<K: Copy + PartialEq> Template<K> {
    /// From a statement built with `markers` (one distinctive value per kind of request value):
    /// each parameter equal to a marker is that kind's slot.
    pub fn new(built: Statement, markers: &[(K, Value)]) -> Self {
        let slots = built
            .values
            .map(|v| v.0)
            .unwrap_or_default()
            .into_iter()
            .map(
                |value| match markers.iter().find(|(_, marker)| *marker == value) {
                    Some((kind, _)) => Slot::Param(*kind),
                    None => Slot::Fixed(value),
                },
            )
            .collect();
        Template {
            sql: built.sql,
            slots,
        }
    }

    /// The statement with this request's values.
    pub fn statement(&self, backend: DbBackend, value: impl Fn(K) -> Value) -> Statement {
        let values = self.slots.iter().map(|slot| match slot {
            Slot::Param(kind) => value(*kind),
            Slot::Fixed(fixed) => fixed.clone(),
        });
        Statement::from_sql_and_values(backend, self.sql.as_str(), values)
    }

    /// How many parameters take a value of this kind: a builder that dropped or copied a marker
    /// would leave a request's value out, or in twice.
    pub fn occurrences(&self, kind: K) -> usize {
        self.slots
            .iter()
            .filter(|slot| matches!(slot, Slot::Param(k) if *k == kind))
            .count()
    }
}

/// Each kind of request value with its marker: `value` given a statement's marker values.
pub fn marked<K: Copy>(kinds: &[K], value: impl Fn(K) -> Value) -> Vec<(K, Value)> {
    kinds.iter().map(|&kind| (kind, value(kind))).collect()
}

/// A time no request writes, to mark where a statement's timestamp goes.
pub fn marker_time() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(946_684_800 + 0x5c1e, 0).unwrap_or_default()
}

/// One value per database backend, made on first use.
pub struct PerBackend<T>([OnceLock<T>; 2]);

impl<T> PerBackend<T> {
    pub const fn new() -> Self {
        PerBackend([OnceLock::new(), OnceLock::new()])
    }

    pub fn get_or_init(&self, backend: DbBackend, make: impl FnOnce() -> T) -> &T {
        self.0[usize::from(backend == DbBackend::Postgres)].get_or_init(make)
    }
}

impl<T> Default for PerBackend<T> {
    fn default() -> Self {
        Self::new()
    }
}
