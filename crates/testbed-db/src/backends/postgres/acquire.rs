//! Giving a test its PostgreSQL database and taking it back: by default a recycled
//! database from the warm pool (see `recycle`), or with [`Isolation::Clone`] a fresh
//! clone of the template, made with `CREATE DATABASE ... TEMPLATE` and dropped after the
//! test.

use std::sync::Arc;

use testbed::{Outcome, Scope};

use super::marks::mark;
use super::server::{self, PgServer, server};
use super::template::{self, Template, create_clone};
use super::{intent, inventory, marks, recycle, sql};

use crate::pool_limit::{self, Holdings, TEST_POOL_CONNECTIONS};
use crate::schema::Prepared;
use crate::{Backend, DatabaseAcquireError, Isolation, ServerCallError, TestDb, engine, owner};

/// Gives `scope`'s test a clone of `prepared`'s template.
pub(crate) async fn acquire(
    prepared: Arc<Prepared>,
    isolation: Isolation,
    scope: &Scope,
) -> Result<TestDb<sqlx::Postgres>, DatabaseAcquireError> {
    server::watched(async {
        match isolation {
            Isolation::Clone => acquire_clone(prepared, scope).await,
            Isolation::Rollback => recycle::acquire(prepared, Isolation::Rollback, scope).await,
            _ => recycle::acquire(prepared, Isolation::Recycle, scope).await,
        }
    })
    .await
}

/// A fresh clone of the template, dropped after the test.
async fn acquire_clone(
    prepared: Arc<Prepared>,
    scope: &Scope,
) -> Result<TestDb<sqlx::Postgres>, DatabaseAcquireError> {
    let (server, name) = engine::run(async move {
        let server = server().await?;
        engine::boxed(inventory::sweep_if_due(&server)).await;
        let template = engine::boxed(inventory::ensure_template(&server, &prepared)).await?;
        let name = match engine::boxed(clone(&server, &template)).await {
            // Pruned by `cargo testbed db prune --templates` since this process built it.
            Err(ServerCallError::Statement { source, .. }) if sql::is_missing(&source) => {
                template::forget(&template.name);
                let template =
                    engine::boxed(inventory::ensure_template(&server, &prepared)).await?;
                engine::boxed(clone(&server, &template)).await?
            }
            other => other?,
        };
        Ok::<_, DatabaseAcquireError>((server, name))
    })
    .await?;
    let url = server.url_of(&name);
    let holdings = Holdings::new(TEST_POOL_CONNECTIONS);
    let pool = pool_limit::test_pool_options::<sqlx::Postgres>(&holdings)
        .connect_with(server.options_for(&name))
        .await;
    let pool = match pool {
        Ok(pool) => pool,
        Err(error) => {
            release(server.clone(), name.clone(), Outcome::Passed).await?;
            return Err(ServerCallError::statement(
                Backend::Postgres,
                format!("connect to `{name}`"),
                error,
            )
            .into());
        }
    };
    let (cleanup_pool, cleanup_name, cleanup_url, details) =
        (pool.clone(), name.clone(), url.clone(), scope.details());
    scope.add_async_cleanup(move |outcome: Outcome| async move {
        pool_limit::close_test_pool(&cleanup_pool, Backend::Postgres, &cleanup_name).await;
        if outcome.is_failure() && owner::keep_failed() {
            keep(&server, &cleanup_name).await?;
            crate::handle::announce_kept(&details, Backend::Postgres, &cleanup_url);
            return Ok(());
        }
        server::watched(release(server, cleanup_name, outcome)).await
    });
    pool_limit::explain_on_failure(scope, holdings, Backend::Postgres, &name, "");
    Ok(TestDb {
        pool,
        url: Some(url),
        name,
        backend: Backend::Postgres,
        isolation: crate::Isolation::Clone,
        alive: Default::default(),
    })
}

/// Clones `template` into a new database owned by this process, on an admin connection
/// (its intent, the statement and the mark on one session; not on the lease, which the
/// process's other tests need meanwhile). Its name is this process's alone; a backend
/// still creating it after the process died keeps the owner alive for the sweep (see
/// `intent`).
async fn clone(server: &PgServer, template: &Template) -> Result<String, ServerCallError> {
    let (settings_of, template) = (template.settings_source(), template.name.as_str());
    let name = owner::database_name();
    let fail = |action: String| move |e| ServerCallError::statement(Backend::Postgres, action, e);
    let mut conn = crate::server_cache::acquire(server, &server.pool)
        .await
        .map_err(fail("connect to `testbed_registry`".into()))?;
    if !intent::record(&mut conn, &name).await? {
        return Err(ServerCallError::failed(
            Backend::Postgres,
            format!("clone template `{template}`"),
            format!("`{name}` exists already"),
        ));
    }
    if let Err(error) = create_clone(&mut conn, server, template, &name).await {
        // Nothing was made: the intent has nothing left to prove.
        let _ = intent::clear(&mut conn, &name).await;
        let hint = sql::clone_hint(&error);
        return Err(fail(format!("clone template `{template}`{hint}"))(error));
    }
    // A failed mark keeps the intent: once this process is gone, the sweep drops it.
    let comment = marks::owned_comment(template);
    sql::run(&mut conn, mark(&name, &comment, settings_of))
        .await
        .map_err(fail(format!("mark `{name}`")))?;
    intent::clear(&mut conn, &name).await?;
    Ok(name)
}

/// Drops a test's database on the engine.
async fn release(
    server: Arc<PgServer>,
    name: String,
    _outcome: Outcome,
) -> Result<(), ServerCallError> {
    engine::run(async move {
        let mut conn = crate::server_cache::acquire(&*server, &server.pool)
            .await
            .map_err(|e| ServerCallError::statement(Backend::Postgres, "connect", e))?;
        sql::drop_database(&mut conn, &name)
            .await
            .map_err(|e| ServerCallError::statement(Backend::Postgres, format!("drop `{name}`"), e))
    })
    .await
}

/// Marks a failing test's database as kept, so that no sweep drops it.
async fn keep(server: &Arc<PgServer>, name: &str) -> Result<(), ServerCallError> {
    let (server, name) = (server.clone(), name.to_owned());
    engine::run(async move {
        let mut lease = server.lease.lock().await;
        let comment = marks::KEPT_COMMENT;
        sql::run(
            &mut lease,
            format!(r#"comment on database "{name}" is '{comment}'"#),
        )
        .await
        .map_err(|e| ServerCallError::statement(Backend::Postgres, format!("keep `{name}`"), e))
    })
    .await
}
