//! The database seam (issue 14, ARCHITECTURE.md decision 41): one connection type that every unit
//! of work, every helper and every handler uses, implemented by both backends — SQLite through
//! `rusqlite` (the embedded default) and PostgreSQL through the synchronous `postgres` crate.
//!
//! The surface is the part of `rusqlite`'s API the server used (`execute`, `query_row`,
//! `prepare` + `query_map`, `savepoint`, `params!`, `.optional()`), so the SQL and the code
//! around it stay as they were. SQL is written once in the subset both dialects accept; the
//! only rewrite is of placeholders (`?N` → `$N` for PostgreSQL). Values cross the seam as
//! [`Value`] (null, integer, real, text, blob): PostgreSQL's stricter types are met by
//! converting a value to the type the statement expects (an integer bound to a `BOOLEAN` or
//! `INT4`, text to `BYTEA`), and every integer column of the PostgreSQL schema is `BIGINT` so
//! that reading one back is the same `i64` as in SQLite.
//!
//! A PostgreSQL connection also records whether a statement failed inside the current
//! transaction (PostgreSQL aborts the transaction then, where SQLite carries on) and whether
//! that failure asks for the whole unit to be retried (serialization failure, deadlock, or a
//! unique violation against a concurrent insert): `store` rolls back and runs the unit again.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;

/// A value bound to or read from a statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Any integer (booleans are 0/1).
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// Errors of the seam.
#[derive(Debug)]
pub enum Error {
    /// `query_row` found no row (see [`OptionalExtension::optional`]).
    QueryReturnedNoRows,
    /// A column could not be converted to the Rust type asked for.
    Conversion(String),
    /// SQLite's error.
    Sqlite(rusqlite::Error),
    /// PostgreSQL's error.
    Pg(postgres::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::QueryReturnedNoRows => f.write_str("query returned no rows"),
            Error::Conversion(m) => write!(f, "conversion error: {m}"),
            Error::Sqlite(e) => write!(f, "{e}"),
            Error::Pg(e) => f.write_str(&describe(e)),
        }
    }
}

impl std::error::Error for Error {}

/// A PostgreSQL error with its SQLSTATE and message (the driver's `Display` says "db error").
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({}): {}", d.severity(), d.code().code(), d.message()),
        None => e.to_string(),
    }
}

/// Whether a PostgreSQL error is only a consequence of the unit's earlier failure (25P02: the
/// transaction is aborted) or asks for the unit to run again: not worth an error in the log.
pub fn is_noise(e: &Error) -> bool {
    match e {
        Error::Pg(pe) => is_retryable(pe) || pe.code() == Some(&postgres::error::SqlState::IN_FAILED_SQL_TRANSACTION),
        _ => false,
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => Error::QueryReturnedNoRows,
            e => Error::Sqlite(e),
        }
    }
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        Error::Pg(e)
    }
}

/// Result of the seam.
pub type Result<T> = std::result::Result<T, Error>;

/// `.optional()` on a `query_row` result, as in `rusqlite`.
pub trait OptionalExtension<T> {
    /// `Ok(None)` for no row.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Something that can be bound as a parameter.
pub trait Param {
    /// The value bound.
    fn value(&self) -> Value;
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl Param for $t {
            #[allow(clippy::cast_possible_wrap, clippy::cast_lossless)]
            fn value(&self) -> Value {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_param!(i32, i16, u8, u16, u32, u64, usize, isize);

impl Param for i64 {
    fn value(&self) -> Value {
        Value::Int(*self)
    }
}

impl Param for bool {
    fn value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl Param for f64 {
    fn value(&self) -> Value {
        Value::Real(*self)
    }
}
impl Param for str {
    fn value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl Param for String {
    fn value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl Param for [u8] {
    fn value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl Param for Vec<u8> {
    fn value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl<const N: usize> Param for [u8; N] {
    fn value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl Param for Value {
    fn value(&self) -> Value {
        self.clone()
    }
}
impl<T: Param + ?Sized> Param for &T {
    fn value(&self) -> Value {
        (**self).value()
    }
}
impl<T: Param> Param for Option<T> {
    fn value(&self) -> Value {
        self.as_ref().map_or(Value::Null, Param::value)
    }
}

/// A statement's parameters: `[]`, `[a, b]` of one type, or `params![…]`.
pub trait Params {
    /// The values, in order (`?1` first).
    fn values(self) -> Vec<Value>;
}

impl Params for [&dyn Param; 0] {
    fn values(self) -> Vec<Value> {
        Vec::new()
    }
}
impl Params for &[&dyn Param] {
    fn values(self) -> Vec<Value> {
        self.iter().map(|p| p.value()).collect()
    }
}
impl Params for Vec<Value> {
    fn values(self) -> Vec<Value> {
        self
    }
}
macro_rules! array_params {
    ($($n:literal),*) => {$(
        impl<T: Param> Params for [T; $n] {
            fn values(self) -> Vec<Value> {
                self.iter().map(Param::value).collect()
            }
        }
    )*};
}
array_params!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);

/// Parameters of mixed types, as `rusqlite::params!`.
macro_rules! params {
    () => { &[] as &[&dyn $crate::sql::Param] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::sql::Param),+] as &[&dyn $crate::sql::Param] };
}
pub(crate) use params;

/// A Rust type a column converts to.
pub trait FromValue: Sized {
    /// Convert, or say why not.
    fn from_value(v: Value) -> Result<Self>;
}

fn conv<T>(what: &str, v: &Value) -> Result<T> {
    Err(Error::Conversion(format!("cannot read {v:?} as {what}")))
}

macro_rules! int_from {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: Value) -> Result<Self> {
                match v {
                    Value::Int(i) => <$t>::try_from(i).map_err(|_| Error::Conversion(format!("{i} out of range"))),
                    v => conv(stringify!($t), &v),
                }
            }
        }
    )*};
}
int_from!(i32, u32, u64, usize, u8, u16, i16);

impl FromValue for i64 {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Int(i) => Ok(i),
            v => conv("i64", &v),
        }
    }
}

impl FromValue for bool {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Int(i) => Ok(i != 0),
            v => conv("bool", &v),
        }
    }
}
impl FromValue for f64 {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Real(f) => Ok(f),
            #[allow(clippy::cast_precision_loss)]
            Value::Int(i) => Ok(i as f64),
            v => conv("f64", &v),
        }
    }
}
impl FromValue for String {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Text(s) => Ok(s),
            v => conv("text", &v),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Blob(b) => Ok(b),
            Value::Text(s) => Ok(s.into_bytes()),
            v => conv("blob", &v),
        }
    }
}
impl FromValue for Value {
    fn from_value(v: Value) -> Result<Self> {
        Ok(v)
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// A column index: position or name.
pub trait RowIndex {
    /// The position in a row whose column names `names` gives.
    fn index(&self, names: &dyn Fn() -> Vec<String>) -> Result<usize>;
}
impl RowIndex for usize {
    fn index(&self, _: &dyn Fn() -> Vec<String>) -> Result<usize> {
        Ok(*self)
    }
}
impl RowIndex for &str {
    fn index(&self, names: &dyn Fn() -> Vec<String>) -> Result<usize> {
        names()
            .iter()
            .position(|n| n.eq_ignore_ascii_case(self))
            .ok_or_else(|| Error::Conversion(format!("no column {self}")))
    }
}

/// One result row.
pub enum Row<'a> {
    /// From SQLite.
    Sqlite(&'a rusqlite::Row<'a>),
    /// From PostgreSQL.
    Pg(&'a postgres::Row),
}

impl Row<'_> {
    /// Column `idx` converted to `T`.
    pub fn get<I: RowIndex, T: FromValue>(&self, idx: I) -> Result<T> {
        let v = match self {
            Row::Sqlite(r) => {
                let i = idx.index(&|| r.as_ref().column_names().into_iter().map(str::to_string).collect())?;
                sqlite_value(r.get_ref(i)?)?
            }
            Row::Pg(r) => {
                let i = idx.index(&|| r.columns().iter().map(|c| c.name().to_string()).collect())?;
                pg_value(r, i)?
            }
        };
        T::from_value(v)
    }
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> Result<Value> {
    use rusqlite::types::ValueRef as V;
    Ok(match v {
        V::Null => Value::Null,
        V::Integer(i) => Value::Int(i),
        V::Real(f) => Value::Real(f),
        V::Text(t) => Value::Text(String::from_utf8(t.to_vec()).map_err(|e| Error::Conversion(e.to_string()))?),
        V::Blob(b) => Value::Blob(b.to_vec()),
    })
}

fn pg_value(r: &postgres::Row, i: usize) -> Result<Value> {
    use postgres::types::Type;
    let col = r.columns().get(i).ok_or_else(|| Error::Conversion(format!("no column {i}")))?;
    let ty = col.type_().clone();
    let v = if ty == Type::INT8 {
        r.try_get::<_, Option<i64>>(i)?.map(Value::Int)
    } else if ty == Type::INT4 {
        r.try_get::<_, Option<i32>>(i)?.map(|v| Value::Int(v.into()))
    } else if ty == Type::INT2 {
        r.try_get::<_, Option<i16>>(i)?.map(|v| Value::Int(v.into()))
    } else if ty == Type::BOOL {
        r.try_get::<_, Option<bool>>(i)?.map(|v| Value::Int(v.into()))
    } else if ty == Type::FLOAT8 {
        r.try_get::<_, Option<f64>>(i)?.map(Value::Real)
    } else if ty == Type::FLOAT4 {
        r.try_get::<_, Option<f32>>(i)?.map(|v| Value::Real(v.into()))
    } else if ty == Type::BYTEA {
        r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
    } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME, Type::UNKNOWN].contains(&ty) {
        r.try_get::<_, Option<String>>(i)?.map(Value::Text)
    } else {
        return Err(Error::Conversion(format!("unsupported PostgreSQL column type {ty} ({})", col.name())));
    };
    Ok(v.unwrap_or(Value::Null))
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::{IsNull, Type};
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => {
                if *ty == Type::INT8 {
                    i.to_sql(ty, out)
                } else if *ty == Type::INT4 {
                    i32::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::BOOL {
                    (*i != 0).to_sql(ty, out)
                } else if *ty == Type::FLOAT8 {
                    #[allow(clippy::cast_precision_loss)]
                    (*i as f64).to_sql(ty, out)
                } else {
                    i.to_string().to_sql(ty, out)
                }
            }
            Value::Real(f) => f.to_sql(ty, out),
            Value::Text(s) => {
                if *ty == Type::BYTEA {
                    s.as_bytes().to_sql(ty, out)
                } else {
                    s.as_str().to_sql(ty, out)
                }
            }
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// `?N` (and bare `?`) placeholders to PostgreSQL's `$N`, outside string literals.
pub fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut in_str = false;
    let mut next = 1;
    while let Some(c) = chars.next() {
        if c == '\'' {
            in_str = !in_str;
            out.push(c);
        } else if c == '?' && !in_str {
            out.push('$');
            if chars.peek().is_some_and(char::is_ascii_digit) {
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    out.push(d);
                    chars.next();
                }
            } else {
                out.push_str(&next.to_string());
                next += 1;
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A PostgreSQL connection with its prepared statements and the current transaction's fate.
pub struct PgConn {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

/// A database connection of either backend.
pub struct Connection {
    inner: Inner,
    /// A statement failed in the current PostgreSQL transaction (it is aborted).
    failed: Cell<bool>,
    /// That failure asks for the unit to be run again.
    retry: Cell<bool>,
    /// The last failure (for the log of a unit that keeps conflicting).
    last_error: RefCell<String>,
}

enum Inner {
    Sqlite(rusqlite::Connection),
    Pg(Box<RefCell<PgConn>>),
}

/// The advisory-lock number of a unit key: the first 8 bytes of SHA-256(`key`), big-endian
/// (the same on every instance and every build; a collision only makes two units wait for each
/// other).
pub fn advisory_key(key: &str) -> i64 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(key.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

/// Names of the keys units lock ([`Connection::lock_key`]), one place so that two units
/// guarding the same rows cannot spell a key differently. The order units take them in is
/// fixed (decision 47): submission, then account, then the access-log chain, then throttle
/// keys.
pub mod lock_keys {
    /// Everything of one account and its citizen: devices (status, counters), sessions and
    /// refresh tokens, the failure count, the citizen's access-log chain, its cases.
    pub fn account(account_id: &str) -> String {
        format!("account:{account_id}")
    }
    /// One submission id (idempotency: one unit decides what it stores).
    pub fn submission(submission_id: &str) -> String {
        format!("submission:{submission_id}")
    }
    /// One citizen's access-log hash chain (taken after the account's).
    pub fn access_log(citizen_id: i64) -> String {
        format!("access-log:{citizen_id}")
    }
    /// One failure-throttle key (already hashed with the server secret).
    pub fn throttle(hashed_key: &str) -> String {
        format!("throttle:{hashed_key}")
    }
}

/// Whether a PostgreSQL error means "run the unit again": serialization failure, deadlock, or a
/// unique violation (a concurrent unit inserted the same key first; the retry sees its row).
pub fn is_retryable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::UNIQUE_VIOLATION
    })
}

impl Connection {
    /// Wrap a SQLite connection.
    pub fn sqlite(c: rusqlite::Connection) -> Self {
        Connection {
            inner: Inner::Sqlite(c),
            failed: Cell::new(false),
            retry: Cell::new(false),
            last_error: RefCell::new(String::new()),
        }
    }

    /// Wrap a PostgreSQL client.
    pub fn pg(client: postgres::Client) -> Self {
        Connection {
            inner: Inner::Pg(Box::new(RefCell::new(PgConn { client, statements: HashMap::new() }))),
            failed: Cell::new(false),
            retry: Cell::new(false),
            last_error: RefCell::new(String::new()),
        }
    }

    /// The last statement failure seen on this connection.
    pub fn last_error(&self) -> String {
        self.last_error.borrow().clone()
    }

    /// Whether this is a PostgreSQL connection.
    pub fn is_pg(&self) -> bool {
        matches!(self.inner, Inner::Pg(_))
    }

    /// The SQLite connection (SQLite-only operations: pragmas, migrations, the writer).
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.inner {
            Inner::Sqlite(c) => Some(c),
            Inner::Pg(_) => None,
        }
    }

    /// Whether the PostgreSQL connection is closed (dropped from the pool).
    pub fn is_closed(&self) -> bool {
        match &self.inner {
            Inner::Sqlite(_) => false,
            Inner::Pg(p) => p.borrow().client.is_closed(),
        }
    }

    /// Forget the failure state (a new transaction begins).
    pub fn reset_failure(&self) {
        self.failed.set(false);
        self.retry.set(false);
    }

    /// (failed, retry) of the current transaction.
    pub fn failure(&self) -> (bool, bool) {
        (self.failed.get(), self.retry.get())
    }

    fn note<T>(&self, r: std::result::Result<T, postgres::Error>) -> Result<T> {
        r.map_err(|e| {
            if !self.failed.get() {
                *self.last_error.borrow_mut() = describe(&e);
            }
            self.failed.set(true);
            if is_retryable(&e) {
                self.retry.set(true);
            } else {
                tracing::debug!("postgres statement failed: {e}");
            }
            Error::Pg(e)
        })
    }

    fn pg_statement(&self, pg: &mut PgConn, sql: &str) -> Result<postgres::Statement> {
        if let Some(st) = pg.statements.get(sql) {
            return Ok(st.clone());
        }
        let st = self.note(pg.client.prepare(&pg_placeholders(sql)))?;
        pg.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    fn pg_query(&self, pg: &RefCell<PgConn>, sql: &str, values: &[Value]) -> Result<Vec<postgres::Row>> {
        let mut pg = pg.borrow_mut();
        let st = self.pg_statement(&mut pg, sql)?;
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn postgres::types::ToSql + Sync)).collect();
        self.note(pg.client.query(&st, &refs))
    }

    /// Run one statement; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        let values = params.values();
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.prepare_cached(sql)?.execute(rusqlite::params_from_iter(values.iter()))?),
            Inner::Pg(pg) => {
                let mut pg = pg.borrow_mut();
                let st = self.pg_statement(&mut pg, sql)?;
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    values.iter().map(|v| v as &(dyn postgres::types::ToSql + Sync)).collect();
                let n = self.note(pg.client.execute(&st, &refs))?;
                usize::try_from(n).map_err(|_| Error::Conversion("row count".into()))
            }
        }
    }

    /// Run statements separated by `;` without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Pg(pg) => {
                let r = pg.borrow_mut().client.batch_execute(sql);
                self.note(r)
            }
        }
    }

    /// The first row, mapped by `f`; [`Error::QueryReturnedNoRows`] without one.
    pub fn query_row<T, P: Params, F: FnOnce(&Row<'_>) -> Result<T>>(&self, sql: &str, params: P, f: F) -> Result<T> {
        let values = params.values();
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(rusqlite::params_from_iter(values.iter()))?;
                match rows.next()? {
                    Some(r) => f(&Row::Sqlite(r)),
                    None => Err(Error::QueryReturnedNoRows),
                }
            }
            Inner::Pg(pg) => {
                let rows = self.pg_query(pg, sql, &values)?;
                match rows.first() {
                    Some(r) => f(&Row::Pg(r)),
                    None => Err(Error::QueryReturnedNoRows),
                }
            }
        }
    }

    /// Every row, mapped by `f`.
    pub fn query_all<T, P: Params, F: FnMut(&Row<'_>) -> Result<T>>(
        &self,
        sql: &str,
        params: P,
        mut f: F,
    ) -> Result<Vec<Result<T>>> {
        let values = params.values();
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(rusqlite::params_from_iter(values.iter()))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(f(&Row::Sqlite(r)));
                }
                Ok(out)
            }
            Inner::Pg(pg) => Ok(self.pg_query(pg, sql, &values)?.iter().map(|r| f(&Row::Pg(r))).collect()),
        }
    }

    /// Take the current unit's lock on `key` (PostgreSQL, decision 47): a transaction-level
    /// advisory lock on the first 8 bytes of SHA-256(`key`), held until the unit commits or
    /// rolls back, shared by every instance. Statements after it see everything committed by
    /// the units that held it before (READ COMMITTED). Keys are named `kind:id`
    /// ([`lock_keys`]). On SQLite a no-op: the one writer already runs units one at a time.
    pub fn lock_key(&self, key: &str) -> Result<()> {
        if !self.is_pg() {
            return Ok(());
        }
        self.execute("SELECT pg_advisory_xact_lock(?1)", [advisory_key(key)]).map(|_| ())
    }

    /// A statement to run with [`Statement::query_map`].
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement { conn: self, sql: sql.to_string() })
    }

    /// A nested unit: released by [`Savepoint::commit`], rolled back when dropped without it.
    pub fn savepoint(&mut self) -> Result<Savepoint<'_>> {
        self.execute_batch("SAVEPOINT sp")?;
        Ok(Savepoint { conn: self, done: false })
    }
}

/// A prepared statement (prepared and cached by the connection on first use).
pub struct Statement<'c> {
    conn: &'c Connection,
    sql: String,
}

impl Statement<'_> {
    /// Every row mapped by `f`.
    pub fn query_map<T, P: Params, F: FnMut(&Row<'_>) -> Result<T>>(
        &mut self,
        params: P,
        f: F,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        Ok(self.conn.query_all(&self.sql, params, f)?.into_iter())
    }

    /// Run it; the number of rows changed.
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        self.conn.execute(&self.sql, params)
    }

    /// The first row mapped by `f`.
    pub fn query_row<T, P: Params, F: FnOnce(&Row<'_>) -> Result<T>>(&mut self, params: P, f: F) -> Result<T> {
        self.conn.query_row(&self.sql, params, f)
    }
}

/// A savepoint of the current transaction (both backends run every unit inside one).
pub struct Savepoint<'c> {
    conn: &'c mut Connection,
    done: bool,
}

impl Savepoint<'_> {
    /// Keep what the savepoint did.
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        self.conn.execute_batch("RELEASE sp")
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if !self.done {
            let (failed, retry) = self.conn.failure();
            let _ = self.conn.execute_batch("ROLLBACK TO sp; RELEASE sp");
            // A statement that failed inside the savepoint is undone with it; a unit that must
            // be retried stays marked.
            self.conn.failed.set(failed && retry);
        }
    }
}

impl std::ops::Deref for Savepoint<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl std::ops::DerefMut for Savepoint<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_literals() {
        assert_eq!(pg_placeholders("SELECT ?1, '?2', ?12 || ?"), "SELECT $1, '?2', $12 || $1");
    }

    #[test]
    fn the_sqlite_face_behaves_as_rusqlite() {
        let mut c = Connection::sqlite(rusqlite::Connection::open_in_memory().unwrap());
        c.execute_batch("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c BLOB)").unwrap();
        assert_eq!(c.execute("INSERT INTO t (a, b, c) VALUES (?1, ?2, ?3)", params![1, "x", vec![1u8]]).unwrap(), 1);
        let b: Option<String> = c.query_row("SELECT b FROM t WHERE a = ?1", [1], |r| r.get(0)).optional().unwrap();
        assert_eq!(b.as_deref(), Some("x"));
        assert!(c
            .query_row("SELECT b FROM t WHERE a = ?1", [2], |r| r.get::<_, String>(0))
            .optional()
            .unwrap()
            .is_none());
        {
            let sp = c.savepoint().unwrap();
            sp.execute("INSERT INTO t (a) VALUES (2)", []).unwrap();
        }
        let n: usize = c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1, "a dropped savepoint rolls back");
        let sp = c.savepoint().unwrap();
        sp.execute("INSERT INTO t (a) VALUES (3)", []).unwrap();
        sp.commit().unwrap();
        let mut st = c.prepare("SELECT a FROM t ORDER BY a").unwrap();
        let all = st.query_map([], |r| r.get::<_, i64>("a")).unwrap().collect::<Result<Vec<_>>>().unwrap();
        assert_eq!(all, [1, 3]);
    }
}
