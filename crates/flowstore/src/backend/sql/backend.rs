//! [`SqlBackend`]: flows persisted through sqlx in SQLite, PostgreSQL or MySQL, chosen by
//! the URL, with the schema kept as migrations.

use std::fmt;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Row, SqlSafeStr};
use tokio::runtime::Runtime;

use crate::backend::Backend;
use crate::backend::codec::{AtomRow, from_json, to_json};
use crate::detail::{AtomDetail, FlowDetail};
use crate::error::BackendError;

use super::SqlKind;
use super::queries::{self, CLEAR_ALL, SELECT_ATOMS, SELECT_FLOW, UPSERT_ATOM, UPSERT_FLOW};

/// The schema, one migration per file of `migrations/`, in order.
const MIGRATIONS: [(i64, &str, &str); 1] = [(
    1,
    "flowstore schema",
    include_str!("../../../migrations/0001_flowstore_schema.sql"),
)];

/// Persists flows in a SQL database through sqlx.
///
/// The [`Backend`] API is blocking, like [`Storage`](crate::Storage)'s, so the backend owns
/// a small tokio runtime (one worker thread) that drives its connection pool; callers on
/// any thread block on it. Do not call it from inside an async task: use
/// `tokio::task::spawn_blocking` there.
///
/// ```no_run
/// use flowstore::{Backend, FlowDetail, SqlBackend};
///
/// let backend = SqlBackend::connect("sqlite://flows.db?mode=rwc")?;
/// backend.upgrade()?;
/// backend.save_flow(&FlowDetail::new("nightly"))?;
/// # Ok::<(), flowstore::BackendError>(())
/// ```
pub struct SqlBackend {
    pool: AnyPool,
    kind: SqlKind,
    runtime: Runtime,
}

impl SqlBackend {
    /// Connects to the database at `url` (`sqlite:`, `postgres:` or `mysql:`). The schema
    /// is not touched: call [`upgrade`](SqlBackend::upgrade) to create or update it.
    pub fn connect(url: &str) -> Result<SqlBackend, BackendError> {
        let kind = SqlKind::from_url(url)?;
        sqlx::any::install_default_drivers();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("flowstore-sql")
            .enable_all()
            .build()
            .map_err(BackendError::Runtime)?;
        let pool = runtime.block_on(AnyPoolOptions::new().max_connections(4).connect(url))?;
        Ok(SqlBackend {
            pool,
            kind,
            runtime,
        })
    }

    /// Which server this backend talks to.
    pub fn kind(&self) -> SqlKind {
        self.kind
    }

    /// Creates the schema, or brings it up to date, by running the migrations not yet
    /// applied (recorded in sqlx's `_sqlx_migrations` table).
    pub fn upgrade(&self) -> Result<(), BackendError> {
        self.runtime.block_on(Self::migrator().run(&self.pool))?;
        Ok(())
    }

    /// The schema's migrations, for tools that build databases ahead of time.
    pub fn migrator() -> Migrator {
        Migrator::with_migrations(
            MIGRATIONS
                .into_iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        version,
                        description.into(),
                        MigrationType::Simple,
                        sql.into_sql_str(),
                        false,
                    )
                })
                .collect(),
        )
    }

    fn sql(&self, query: &queries::Query) -> &'static str {
        query.text(self.kind.numbered_placeholders())
    }
}

impl Backend for SqlBackend {
    fn save_flow(&self, flow: &FlowDetail) -> Result<(), BackendError> {
        let meta = to_json("flow meta", &flow.meta)?;
        let query = sqlx::query(self.sql(&UPSERT_FLOW))
            .bind(flow.uuid.clone())
            .bind(flow.name.clone())
            .bind(flow.state.as_str())
            .bind(meta);
        self.runtime.block_on(query.execute(&self.pool))?;
        Ok(())
    }

    fn save_atom(
        &self,
        flow_uuid: &str,
        position: usize,
        atom: &AtomDetail,
    ) -> Result<(), BackendError> {
        let row = AtomRow::encode(atom)?;
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        let query = sqlx::query(self.sql(&UPSERT_ATOM))
            .bind(row.uuid)
            .bind(flow_uuid.to_owned())
            .bind(position)
            .bind(row.name)
            .bind(row.kind)
            .bind(row.version)
            .bind(row.state)
            .bind(row.intention)
            .bind(row.meta)
            .bind(row.results)
            .bind(row.failure)
            .bind(row.revert_results)
            .bind(row.revert_failure);
        self.runtime.block_on(query.execute(&self.pool))?;
        Ok(())
    }

    fn load_flow(&self, uuid: &str) -> Result<FlowDetail, BackendError> {
        let (flow_row, atom_rows) = self.runtime.block_on(async {
            let flow = sqlx::query(self.sql(&SELECT_FLOW))
                .bind(uuid.to_owned())
                .fetch_optional(&self.pool)
                .await?;
            let atoms = sqlx::query(self.sql(&SELECT_ATOMS))
                .bind(uuid.to_owned())
                .fetch_all(&self.pool)
                .await?;
            Ok::<_, sqlx::Error>((flow, atoms))
        })?;
        let flow_row = flow_row.ok_or_else(|| BackendError::FlowNotFound {
            uuid: uuid.to_owned(),
        })?;
        let mut flow = FlowDetail::with_uuid(flow_row.try_get::<String, _>("name")?, uuid);
        let state: String = flow_row.try_get("state")?;
        flow.state = state.parse().map_err(|error| BackendError::Corrupt {
            record: format!("flow `{uuid}`"),
            what: "state",
            reason: format!("{error}"),
        })?;
        let meta: String = flow_row.try_get("meta")?;
        flow.meta = from_json(&meta).map_err(|reason| BackendError::Corrupt {
            record: format!("flow `{uuid}`"),
            what: "meta",
            reason,
        })?;
        for row in atom_rows {
            flow.add(atom_row(&row)?.decode()?);
        }
        Ok(flow)
    }

    fn clear_all(&self) -> Result<(), BackendError> {
        self.runtime.block_on(async {
            for statement in CLEAR_ALL {
                sqlx::query(statement).execute(&self.pool).await?;
            }
            Ok(())
        })
    }
}

fn atom_row(row: &AnyRow) -> Result<AtomRow, sqlx::Error> {
    Ok(AtomRow {
        uuid: row.try_get("uuid")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        version: row.try_get("version")?,
        state: row.try_get("state")?,
        intention: row.try_get("intention")?,
        meta: row.try_get("meta")?,
        results: row.try_get("results")?,
        failure: row.try_get("failure")?,
        revert_results: row.try_get("revert_results")?,
        revert_failure: row.try_get("revert_failure")?,
    })
}

impl fmt::Debug for SqlBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: show only what kind of server this is.
        f.debug_struct("SqlBackend")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Drop for SqlBackend {
    fn drop(&mut self) {
        // Close the connections while the runtime that drives them is still alive, so the
        // server sees them go now (a test dropping its database right after needs that).
        // Inside another runtime `block_on` would panic: there the pool is left to close
        // its connections as it is dropped.
        if tokio::runtime::Handle::try_current().is_err() {
            self.runtime.block_on(self.pool.close());
        }
    }
}
