//! testbed-db's ORM connections against the real servers: sea-orm on the test's pool,
//! diesel and diesel-async on its URL. SQLite always; PostgreSQL and MariaDB when they
//! answer (skipped otherwise, failed under `TESTBED_REQUIRE`). Each writes through the
//! ORM and reads back through the test's sqlx pool: the same isolated database.

mod with_diesel;
mod with_diesel_async;
mod with_sea_orm;

use testbed_db::{AnyTestDb, Database, Isolation};

/// diesel's migrations directory, read as it is: `users (id, name)` and `posts`.
pub const DIESEL_DIR: &str = "tests/diesel_schema";

/// The schema, on SQLite's default in-memory `Image`.
pub static USERS: Database = Database::diesel_migrations(DIESEL_DIR);

/// The same, on a SQLite file other drivers can open (PostgreSQL and MySQL: as above).
pub static USERS_IN_A_FILE: Database =
    Database::diesel_migrations(DIESEL_DIR).isolation(Isolation::File);

/// The name of user `id`, read through the test's sqlx pool.
pub async fn name_in_pool(db: &AnyTestDb, id: i32) -> Option<String> {
    let sql = match db.backend() {
        testbed_db::Backend::Postgres => "select name from users where id = $1",
        _ => "select name from users where id = ?",
    };
    let read = match db {
        AnyTestDb::Sqlite(db) => {
            sqlx::query_scalar(sql)
                .bind(id)
                .fetch_optional(db.pool())
                .await
        }
        AnyTestDb::Postgres(db) => {
            sqlx::query_scalar(sql)
                .bind(id)
                .fetch_optional(db.pool())
                .await
        }
        AnyTestDb::MySql(db) => {
            sqlx::query_scalar(sql)
                .bind(id)
                .fetch_optional(db.pool())
                .await
        }
        _ => unreachable!("every backend is built for these tests"),
    };
    read.unwrap_or_else(|error| panic!("read user {id} on {}: {error}", db.name()))
}

/// Adds user `id` through the test's sqlx pool.
pub async fn add_in_pool(db: &AnyTestDb, id: i32, name: &str) {
    let sql = match db.backend() {
        testbed_db::Backend::Postgres => "insert into users (id, name) values ($1, $2)",
        _ => "insert into users (id, name) values (?, ?)",
    };
    let written = match db {
        AnyTestDb::Sqlite(db) => sqlx::query(sql)
            .bind(id)
            .bind(name)
            .execute(db.pool())
            .await
            .map(drop),
        AnyTestDb::Postgres(db) => sqlx::query(sql)
            .bind(id)
            .bind(name)
            .execute(db.pool())
            .await
            .map(drop),
        AnyTestDb::MySql(db) => sqlx::query(sql)
            .bind(id)
            .bind(name)
            .execute(db.pool())
            .await
            .map(drop),
        _ => unreachable!("every backend is built for these tests"),
    };
    written.unwrap_or_else(|error| panic!("add user {id} on {}: {error}", db.name()));
}
