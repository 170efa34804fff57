//! MySQL/MariaDB (not yet implemented: reported unavailable).
use std::sync::Arc;

use testbed::Scope;

use crate::admin::{Held, PruneOptions};
use crate::schema::Prepared;
use crate::{DbError, Isolation, TestDb};

/// The environment variable holding the admin URL of the MySQL/MariaDB server to use.
pub const MYSQL_URL_ENV: &str = "TESTBED_MYSQL_URL";

pub(crate) async fn acquire(
    _prepared: Arc<Prepared>,
    _isolation: Isolation,
    _scope: &Scope,
) -> Result<TestDb<sqlx::MySql>, DbError> {
    Err(testbed::Unavailable::new("mysql", "testbed-db does not support MySQL yet").into())
}

pub(crate) async fn status(_url: Option<&str>) -> Result<Vec<Held>, DbError> {
    Ok(Vec::new())
}

pub(crate) async fn prune(
    _url: Option<&str>,
    _options: PruneOptions,
) -> Result<Vec<Held>, DbError> {
    Ok(Vec::new())
}
