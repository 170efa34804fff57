use testbed::Scope;
use testbed_db::{Database, DatabaseAcquireError, SchemaLoadError, Seed, ServerCallError};

/// Read when the test runs: embedded, a missing directory fails to compile (see
/// testbed-db-macros' UI tests).
pub static MISSING: Database = Database::migrations("tests/no_such_dir");
pub static BROKEN: Database = testbed_db::migrations!("tests/bad_schema");
static BAD_SEED: Database =
    testbed_db::migrations!("tests/schema").with_seeds(&[Seed::file("tests/no_such_seed.sql")]);

#[tokio::test]
async fn a_missing_migrations_directory_is_named() {
    let scope = Scope::new("missing");
    let error = MISSING.sqlite(&scope).await.unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseAcquireError::Schema(SchemaLoadError::MissingMigrations { .. })
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("tests/no_such_dir") && message.contains("hint:"),
        "{message}"
    );
}

#[tokio::test]
async fn a_missing_seed_file_is_named() {
    let scope = Scope::new("bad seed");
    let error = BAD_SEED.sqlite(&scope).await.unwrap_err();
    assert!(error.to_string().contains("no_such_seed.sql"), "{error}");
}

/// The file and the failing statement are named, on every backend.
pub fn assert_names_the_broken_statement(error: &DatabaseAcquireError) {
    let message = error.to_string();
    assert!(
        matches!(error, DatabaseAcquireError::Script(_)),
        "{message}"
    );
    assert!(message.contains("0002_broken.sql"), "{message}");
    assert!(
        message.contains("create tabel broken (id integer)"),
        "{message}"
    );
}

pub static BROKEN_SEED: Database = testbed_db::migrations!("tests/schema")
    .with_seeds(testbed_db::seeds!["tests/seeds/broken_seed.sql"]);

/// A seed statement that fails when it runs (no position in SQLite's and MySQL's
/// errors) is named on every backend, without testbed's template database in the
/// message; and the error's `Debug` form, which libtest prints for a test returning it
/// through `?`, is that message and then the server's words as its cause, not the
/// variant's fields.
#[testbed::test(scenarios(sqlite, postgres, mysql))]
async fn a_failing_seed_statement_is_named_on_every_backend(scope: &Scope) {
    let error = BROKEN_SEED.for_scenario(scope).await.unwrap_err();
    let shown = format!("{error:?}");
    assert!(matches!(error, DatabaseAcquireError::Script(_)), "{shown}");
    assert!(
        shown.starts_with(&format!("{error}\n  caused by: ")),
        "{shown}"
    );
    assert!(
        shown.starts_with("run seed file `") && shown.contains("broken_seed.sql"),
        "{shown}"
    );
    assert!(
        shown.contains("at statement `insert into no_such_table (id) values (1)`"),
        "{shown}"
    );
    assert!(!shown.contains("testbed_tpl_"), "{shown}");
}

#[tokio::test]
async fn a_missing_migrations_directory_shows_its_hint_through_debug() {
    let scope = Scope::new("missing, debug");
    let error = MISSING.sqlite(&scope).await.unwrap_err();
    let shown = format!("{error:?}");
    assert!(
        shown.contains("tests/no_such_dir") && shown.contains("hint:"),
        "{shown}"
    );
    assert!(!shown.contains("MissingMigrations"), "{shown}");
}

#[tokio::test]
async fn a_broken_migration_names_its_file_and_statement_on_sqlite() {
    let scope = Scope::new("broken");
    let error = BROKEN.sqlite(&scope).await.unwrap_err();
    assert_names_the_broken_statement(&error);
}

#[testbed::test]
async fn a_broken_migration_names_its_file_and_statement_on_postgres(scope: &Scope) {
    let error = BROKEN.postgres(scope).await.unwrap_err();
    assert_names_the_broken_statement(&error);
}

/// A URL that cannot be PostgreSQL's is a configuration error naming the variable, never
/// a skip; and its secrets are not printed.
#[tokio::test]
async fn a_postgres_url_that_cannot_be_postgres_is_an_error() {
    use testbed_db::{Backend, admin};
    for url in [
        "not a url",
        "postgres://app:SECRET@db:notaport/x",
        "mysql://root:SECRET@127.0.0.1:3306",
    ] {
        let error = admin::status(Backend::Postgres, Some(url))
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, ServerCallError::BadUrl { .. }),
            "{url}: {message}"
        );
        assert!(message.contains("TESTBED_POSTGRES_URL"), "{message}");
        assert!(!message.contains("SECRET"), "{message}");
    }
}

/// A server that answers in another protocol (PostgreSQL's URL pointed at MariaDB's
/// port) is an error, not "unreachable".
#[testbed::test]
async fn a_server_of_another_protocol_is_an_error() {
    use testbed_db::{Backend, admin};
    if tokio::net::TcpStream::connect("127.0.0.1:3306")
        .await
        .is_err()
    {
        testbed::skip(
            "mysql",
            "nothing listens on 127.0.0.1:3306 to answer in MySQL's protocol",
        );
    }
    let error = admin::status(Backend::Postgres, Some("postgres://root@127.0.0.1:3306/x"))
        .await
        .unwrap_err();
    assert!(matches!(error, ServerCallError::Connect { .. }), "{error}");
    assert!(
        format!("{error:?}").contains("another protocol"),
        "{error:?}"
    );
}

/// The same for MySQL's URL.
#[tokio::test]
async fn a_mysql_url_that_cannot_be_mysql_is_an_error() {
    use testbed_db::{Backend, admin};
    for url in [
        "not a url",
        "postgres://postgres:SECRET@127.0.0.1:5432/postgres",
    ] {
        let error = admin::status(Backend::MySql, Some(url)).await.unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, ServerCallError::BadUrl { .. }),
            "{url}: {message}"
        );
        assert!(message.contains("TESTBED_MYSQL_URL"), "{message}");
        assert!(!message.contains("SECRET"), "{message}");
    }
}
