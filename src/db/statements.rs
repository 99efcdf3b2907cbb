//! Statement mechanics shared by the domain's writes: write transactions that take SQLite's lock
//! up front, several statements in one round trip, and row locks where PostgreSQL needs them.

/// Begins a transaction that will write. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy timeout instead of failing with
/// "database is locked" when a read-then-write transaction finds the database changed under it.
pub async fn begin_write<C: sea_orm::TransactionTrait>(
    db: &C,
) -> std::result::Result<C::Transaction, sea_orm::DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Runs write statements in order, in one round trip on SQLite (it takes a string of statements
/// with their parameters in order: each round trip to sqlx's connection thread costs more than
/// the statement itself), one by one elsewhere. Stops at the first error.
pub async fn execute_all(
    db: &impl sea_orm::ConnectionTrait,
    statements: Vec<sea_orm::Statement>,
) -> std::result::Result<(), sea_orm::DbErr> {
    let backend = db.get_database_backend();
    if backend != sea_orm::DatabaseBackend::Sqlite {
        for statement in statements {
            db.execute_raw(statement).await?;
        }
        return Ok(());
    }
    if !statements.is_empty() {
        db.execute_raw(joined(backend, statements)).await?;
    }
    Ok(())
}

/// Statements as one multi-statement string with their parameters in order (SQLite only).
pub(super) fn joined(
    backend: sea_orm::DatabaseBackend,
    statements: impl IntoIterator<Item = sea_orm::Statement>,
) -> sea_orm::Statement {
    let mut sql = String::new();
    let mut values = Vec::new();
    for statement in statements {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        sql.push_str(&statement.sql);
        values.extend(statement.values.map(|v| v.0).unwrap_or_default());
    }
    sea_orm::Statement::from_sql_and_values(backend, sql, values)
}

/// Runs `first` (a write with `RETURNING`) and then `rest`, like `execute_all`; answers how many
/// rows `first` returned. The caller rolls back when that number says `first` missed (on SQLite,
/// where the statements go as one string, `rest` ran too; elsewhere it did not run).
pub async fn write_returning(
    db: &impl sea_orm::ConnectionTrait,
    first: sea_orm::Statement,
    rest: Vec<sea_orm::Statement>,
) -> std::result::Result<usize, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    if backend != sea_orm::DatabaseBackend::Sqlite {
        // `rest` runs only after `first` matched: its row lock then orders concurrent writers of
        // that row, and a writer that lost the race touches nothing else.
        let returned = db.query_all_raw(first).await?.len();
        if returned > 0 {
            execute_all(db, rest).await?;
        }
        return Ok(returned);
    }
    // The other statements return no rows: every row comes from `first`.
    let all = joined(backend, std::iter::once(first).chain(rest));
    let rows = db.query_all_raw(all).await?;
    Ok(rows.len())
}

/// `SELECT … FOR UPDATE` on PostgreSQL (concurrent writers of one row take turns, also across
/// replicas); SQLite needs nothing, its write transactions are already serial.
pub fn for_update<S: sea_orm::QuerySelect>(db: &impl sea_orm::ConnectionTrait, select: S) -> S {
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        select.lock_exclusive()
    } else {
        select
    }
}

/// Locks the rows `select` names until the transaction ends, on PostgreSQL (concurrent writers of
/// one row take turns, across replicas too); nothing on SQLite, whose write transactions are
/// serial already.
pub async fn lock_rows<E: sea_orm::EntityTrait>(
    txn: &impl sea_orm::ConnectionTrait,
    select: sea_orm::Select<E>,
) -> std::result::Result<(), sea_orm::DbErr> {
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        use sea_orm::QuerySelect;
        select.lock_exclusive().all(txn).await?;
    }
    Ok(())
}
