//! The two backends under one statement interface: SQLite (one connection, the embedded default)
//! and PostgreSQL (a pool of connections, each with its own cache of prepared statements).
//!
//! Statements are written once, in the SQL both understand, with `?1`-style placeholders
//! (rewritten to `$1` for PostgreSQL). Parameters ([`Param`]) borrow what they bind and adapt to
//! the column type PostgreSQL infers (an integer bound to a `BOOLEAN` is written as one); rows come
//! back as owned [`Value`]s read by position ([`Row::get`]).

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use super::Db;
use crate::error::{Error, Result};

/// How long opening a PostgreSQL connection may take, and how long a caller waits for a free
/// connection of the pool before the operation fails (then the database counts as unreachable).
pub(crate) const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections a store's pool keeps open at most.
pub(crate) const PG_POOL_SIZE: u32 = 4;

/// The database's own error behind an [`Error::Store`]. Its text ends the store error's message;
/// it chains no further cause.
#[derive(Debug)]
pub enum DbError {
    /// SQLite reported it.
    Sqlite(rusqlite::Error),
    /// PostgreSQL (or the connection to it) reported it.
    Postgres(postgres::Error),
    /// No connection could be had from the pool within its timeout.
    Pool(String),
    /// A stored value was not of the type expected.
    Value(String),
}

impl DbError {
    /// SQLite's error, when SQLite reported this one.
    pub fn sqlite(&self) -> Option<&rusqlite::Error> {
        match self {
            DbError::Sqlite(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the same statement may succeed if tried again later: the server is down,
    /// restarting or unreachable, the connection dropped, the database is busy (SQLite) or the
    /// transaction lost a conflict. Not a refused statement or a bad value.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Pool(_) => true,
            DbError::Postgres(e) => {
                if e.is_closed() {
                    return true;
                }
                if let Some(db) = e.as_db_error() {
                    let code = db.code().code();
                    // 08: connection exception; 57P0x: shutdown / cannot connect now; 53300:
                    // too many connections; 40001 / 40P01: serialization failure, deadlock.
                    return code.starts_with("08")
                        || code.starts_with("57P0")
                        || matches!(code, "53300" | "40001" | "40P01");
                }
                std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
            }
            DbError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            _ => false,
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Sqlite(e) => e.fmt(f),
            // The server's own message (`ERROR: …`), else the client's (connection errors).
            DbError::Postgres(e) => match e.as_db_error() {
                Some(db) => write!(f, "{}", db.message()),
                None => {
                    e.fmt(f)?;
                    if let Some(cause) = std::error::Error::source(e) {
                        write!(f, ": {cause}")?;
                    }
                    Ok(())
                }
            },
            DbError::Pool(e) | DbError::Value(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for DbError {}

/// The one mapping of a backend error to [`Error::Store`]: the database, then the backend's text.
pub(crate) fn db_error(db: &Db, e: DbError) -> Error {
    Error::Store {
        context: db.to_string(),
        source: Some(e),
    }
}

/// A value bound to a statement.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Null,
    Int(i64),
    Real(f64),
    Bool(bool),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}
impl From<f64> for Param<'_> {
    fn from(v: f64) -> Self {
        Param::Real(v)
    }
}
impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}
impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}
impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}
impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Blob(v)
    }
}
impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Param::Null, Into::into)
    }
}

/// The parameters of a statement: `args![a, b, c]`.
macro_rules! args {
    ($($x:expr),* $(,)?) => {
        &[$($crate::store::sql::Param::from($x)),*][..]
    };
}
pub(crate) use args;

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match *self {
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(v)),
            Param::Real(v) => ToSqlOutput::Borrowed(ValueRef::Real(v)),
            Param::Bool(v) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(v))),
            Param::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Param::Blob(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, BoxError> {
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::FLOAT8 => (v as f64).to_sql(ty, out),
                Type::BOOL => (v != 0).to_sql(ty, out),
                _ if <&str as ToSql>::accepts(ty) => v.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("an integer cannot be stored as {ty}").into()),
            },
            Param::Real(v) => match *ty {
                Type::FLOAT4 => (v as f32).to_sql(ty, out),
                Type::FLOAT8 => v.to_sql(ty, out),
                _ => Err(format!("a number cannot be stored as {ty}").into()),
            },
            Param::Bool(v) => match *ty {
                Type::BOOL => v.to_sql(ty, out),
                Type::INT8 => i64::from(v).to_sql(ty, out),
                Type::INT4 => i32::from(v).to_sql(ty, out),
                _ => Err(format!("a boolean cannot be stored as {ty}").into()),
            },
            Param::Text(v) if <&str as ToSql>::accepts(ty) => v.to_sql(ty, out),
            Param::Blob(v) if *ty == Type::BYTEA => v.to_sql(ty, out),
            Param::Text(_) | Param::Blob(_) => {
                Err(format!("text or bytes cannot be stored as {ty}").into())
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Bool(bool),
    Text(String),
    Blob(Vec<u8>),
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::BYTEA => Value::Blob(Vec::<u8>::from_sql(ty, raw)?),
            _ if <&str as FromSql>::accepts(ty) => Value::Text(String::from_sql(ty, raw)?),
            _ => return Err(format!("unexpected column type {ty}").into()),
        })
    }

    fn from_sql_null(_: &Type) -> std::result::Result<Self, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl From<rusqlite::types::ValueRef<'_>> for Value {
    fn from(v: rusqlite::types::ValueRef<'_>) -> Self {
        use rusqlite::types::ValueRef;
        match v {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Int(i),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }
}

/// A type a column is read as.
pub(crate) trait FromValue: Sized {
    fn from_value(v: Value) -> std::result::Result<Self, String>;
}

impl FromValue for Value {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        Ok(v)
    }
}
impl FromValue for i64 {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Int(i) => Ok(i),
            Value::Bool(b) => Ok(i64::from(b)),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}
impl FromValue for f64 {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Real(r) => Ok(r),
            Value::Int(i) => Ok(i as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}
impl FromValue for bool {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Bool(b) => Ok(b),
            Value::Int(i) => Ok(i != 0),
            other => Err(format!("expected a boolean, found {other:?}")),
        }
    }
}
impl FromValue for String {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b),
            Value::Text(s) => Ok(s.into_bytes()),
            other => Err(format!("expected bytes, found {other:?}")),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One row of a result, its columns by position.
#[derive(Debug)]
pub(crate) struct Row(Vec<Value>);

impl Row {
    /// Column `i` as `T` (taken out of the row: read each column once).
    pub(crate) fn get<T: FromValue>(&mut self, i: usize) -> std::result::Result<T, DbError> {
        let v = self
            .0
            .get_mut(i)
            .map(|v| std::mem::replace(v, Value::Null))
            .ok_or_else(|| DbError::Value(format!("no column {i}")))?;
        T::from_value(v).map_err(|e| DbError::Value(format!("column {i}: {e}")))
    }
}

/// `?N` placeholders as PostgreSQL's `$N` (outside quoted text).
fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '?') => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// A PostgreSQL connection of the pool, with its prepared statements by SQL text.
pub(crate) struct PgConn {
    client: postgres::Client,
    statements: HashMap<&'static str, postgres::Statement>,
}

impl PgConn {
    fn statement(
        &mut self,
        sql: &'static str,
    ) -> std::result::Result<postgres::Statement, DbError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self
            .client
            .prepare(&pg_placeholders(sql))
            .map_err(DbError::Postgres)?;
        // Bounded: statements are the program's own texts, plus a few formatted ones.
        if self.statements.len() > 256 {
            self.statements.clear();
        }
        self.statements.insert(sql, s.clone());
        Ok(s)
    }
}

/// Opens and checks the pool's PostgreSQL connections.
pub(crate) struct PgManager {
    config: postgres::Config,
}

impl PgManager {
    /// From a `postgres://` URL (the libpq connection string forms).
    pub(crate) fn new(url: &str) -> std::result::Result<Self, String> {
        let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            format!("not a PostgreSQL connection URL: {}", DbError::Postgres(e))
        })?;
        if config.get_ssl_mode() == postgres::config::SslMode::Require {
            return Err(
                "sslmode=require: this build connects without TLS; connect over a trusted network (sslmode=disable) or through a local TLS tunnel"
                    .into(),
            );
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(PG_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("retentionai");
        }
        Ok(PgManager { config })
    }

    /// From connection settings (a scratch database's).
    pub(crate) fn from_config(config: postgres::Config) -> Self {
        PgManager { config }
    }

    /// The connection settings (for `pg_dump`, which is given them as libpq variables).
    pub(crate) fn config(&self) -> &postgres::Config {
        &self.config
    }
}

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = DbError;

    fn connect(&self) -> std::result::Result<PgConn, DbError> {
        let client = self
            .config
            .connect(postgres::NoTls)
            .map_err(DbError::Postgres)?;
        Ok(PgConn {
            client,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> std::result::Result<(), DbError> {
        conn.client
            .simple_query("")
            .map(|_| ())
            .map_err(DbError::Postgres)
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

/// A pool's errors are reported by the operation that waited, not printed.
#[derive(Debug)]
pub(crate) struct Quiet;

impl r2d2::HandleError<DbError> for Quiet {
    fn handle_error(&self, _: DbError) {}
}

/// One connection, for the length of an operation (or a transaction).
pub(crate) enum Session<'a> {
    Sqlite(&'a rusqlite::Connection),
    Pg(&'a mut PgConn),
}

impl Session<'_> {
    /// Whether this is PostgreSQL (for the few statements the two spell differently).
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Session::Pg(_))
    }

    /// Runs a statement; returns the rows it changed. `sql` is one of the program's texts
    /// (prepared once per connection).
    pub(crate) fn execute(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> std::result::Result<usize, DbError> {
        match self {
            Session::Sqlite(c) => c
                .prepare_cached(sql)
                .and_then(|mut s| s.execute(rusqlite::params_from_iter(params)))
                .map_err(DbError::Sqlite),
            Session::Pg(c) => {
                let stmt = c.statement(sql)?;
                let refs: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                c.client
                    .execute(&stmt, &refs)
                    .map(|n| n as usize)
                    .map_err(DbError::Postgres)
            }
        }
    }

    /// Every row of a query.
    pub(crate) fn query(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> std::result::Result<Vec<Row>, DbError> {
        match self {
            Session::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql).map_err(DbError::Sqlite)?;
                let n = stmt.column_count();
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(params))
                    .map_err(DbError::Sqlite)?;
                let mut out = Vec::new();
                while let Some(r) = rows.next().map_err(DbError::Sqlite)? {
                    let mut values = Vec::with_capacity(n);
                    for i in 0..n {
                        values.push(Value::from(r.get_ref(i).map_err(DbError::Sqlite)?));
                    }
                    out.push(Row(values));
                }
                Ok(out)
            }
            Session::Pg(c) => {
                let stmt = c.statement(sql)?;
                let refs: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                let rows = c.client.query(&stmt, &refs).map_err(DbError::Postgres)?;
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.try_get::<_, Value>(i).map_err(DbError::Postgres))
                            .collect::<std::result::Result<Vec<_>, _>>()
                            .map(Row)
                    })
                    .collect()
            }
        }
    }

    /// The first row of a query, if any.
    pub(crate) fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> std::result::Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first row of a query that always has one (`count(*)`, `RETURNING`).
    pub(crate) fn query_one(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> std::result::Result<Row, DbError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| DbError::Value("the query returned no row".into()))
    }

    /// Runs statements without parameters, as one text (migrations, maintenance).
    pub(crate) fn batch(&mut self, sql: &str) -> std::result::Result<(), DbError> {
        match self {
            Session::Sqlite(c) => c.execute_batch(sql).map_err(DbError::Sqlite),
            Session::Pg(c) => c.client.batch_execute(sql).map_err(DbError::Postgres),
        }
    }
}

/// Runs `f` inside a transaction on `session`: committed when it returns `Ok`, rolled back
/// otherwise.
pub(crate) fn in_transaction<T>(
    db: &Db,
    session: &mut Session<'_>,
    f: impl FnOnce(&mut Session<'_>) -> Result<T>,
) -> Result<T> {
    session.batch("BEGIN").map_err(|e| db_error(db, e))?;
    match f(session) {
        Ok(v) => {
            if let Err(e) = session.batch("COMMIT") {
                let _ = session.batch("ROLLBACK");
                return Err(db_error(db, e));
            }
            Ok(v)
        }
        Err(e) => {
            let _ = session.batch("ROLLBACK");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_quotes() {
        assert_eq!(
            pg_placeholders("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d = $12"
        );
    }
}
