//! The words of the errors a user meets, pinned with insta snapshots
//! (`tests/db/snapshots/`): a change to a message shows in review. Each is pinned in its
//! `Debug` form, the message and then one `caused by:` line per cause, which is what
//! libtest, `unwrap` and testbed's reports show. Most are produced
//! the way a user produces them (bad URLs, a missing directory, a broken migration or
//! seed, an unreachable server); the ones that need a server in a given state (full,
//! lost, still changing, a statement or file failing) are built from their variant, and
//! the tests in `faults` prove they are the ones produced.

use testbed::Scope;
use testbed_db::{Backend, Reason, ServerCallError, admin};

use crate::bad_input::{BROKEN, BROKEN_SEED, MISSING};

/// `text` with this crate's directory as `[crate]`, so snapshots hold on any machine.
fn portable(text: String) -> String {
    text.replace(env!("CARGO_MANIFEST_DIR"), "[crate]")
}

#[tokio::test]
async fn bad_urls() {
    let cases = [
        (Backend::Postgres, "not a url"),
        (Backend::Postgres, "postgres://app:SECRET@db:notaport/x"),
        (Backend::Postgres, "mysql://root:SECRET@127.0.0.1:3306"),
        (
            Backend::MySql,
            "postgres://postgres:SECRET@127.0.0.1:5432/postgres?password=SECRET",
        ),
    ];
    let mut text = String::new();
    for (backend, url) in cases {
        let error = admin::status(backend, Some(url)).await.unwrap_err();
        text.push_str(&format!("{backend} {url:?}:\n  {error:?}\n"));
    }
    insta::assert_snapshot!(text);
}

#[tokio::test]
async fn an_unreachable_server_is_a_skip_with_its_reason() {
    // Port 1: nothing listens there.
    let url = "postgres://app:SECRET@127.0.0.1:1/postgres?sslpassword=SECRET";
    let error = admin::status(Backend::Postgres, Some(url))
        .await
        .unwrap_err();
    assert!(matches!(error, ServerCallError::Unavailable(_)), "{error}");
    insta::assert_snapshot!(format!("{error:?}"));
}

#[tokio::test]
async fn schema_files() {
    let scope = Scope::new("messages");
    let missing = MISSING.sqlite(&scope).await.unwrap_err();
    let broken = BROKEN.sqlite(&scope).await.unwrap_err();
    let seed = BROKEN_SEED.sqlite(&scope).await.unwrap_err();
    let text = format!(
        "missing migrations:\n  {missing:?}\nbroken migration:\n  {broken:?}\nbroken seed:\n  {seed:?}\n\
         broken seed, as `Display` alone shows it:\n  {seed}\n"
    );
    insta::assert_snapshot!(portable(text));
}

#[tokio::test]
async fn a_test_without_a_backend_scenario() {
    let scope = Scope::new("plain");
    let error = crate::SHOP.for_scenario(&scope).await.unwrap_err();
    insta::assert_snapshot!(format!("{error:?}"));
}

/// A strategy its backend lacks fails before any server is asked, on every backend, so
/// this needs none.
#[tokio::test]
async fn isolation_a_backend_does_not_have() {
    use testbed_db::{Database, DatabaseAcquireError, Isolation};
    static ROLLED_BACK: Database = Database::empty().isolation(Isolation::Rollback);
    static IMAGE: Database = Database::empty().isolation(Isolation::Image);
    static RECYCLED: Database = Database::empty().isolation(Isolation::Recycle);
    static CLONED: Database = Database::empty().isolation(Isolation::Clone);
    let scope = Scope::new("messages");
    let errors = [
        ROLLED_BACK.sqlite(&scope).await.unwrap_err(),
        ROLLED_BACK.try_mysql(&scope).await.unwrap_err(),
        IMAGE.try_postgres(&scope).await.unwrap_err(),
        RECYCLED.sqlite(&scope).await.unwrap_err(),
        CLONED.try_mysql(&scope).await.unwrap_err(),
    ];
    let mut text = String::new();
    for error in errors {
        assert!(
            matches!(error, DatabaseAcquireError::IsolationNotOffered { .. }),
            "{error:?}"
        );
        text.push_str(&format!("{error:?}\n"));
    }
    insta::assert_snapshot!(text);
}

#[test]
fn servers_in_a_bad_state() {
    let errors = [
        ServerCallError::TooManyConnections {
            backend: Backend::Postgres,
        },
        ServerCallError::TooManyConnections {
            backend: Backend::MySql,
        },
        ServerCallError::Lost {
            backend: Backend::Postgres,
            url: "postgres://app:***@127.0.0.1:5432/postgres".into(),
            reason: Reason::new(
                "error communicating with database: Connection refused (os error 111)",
            ),
        },
        ServerCallError::Lost {
            backend: Backend::MySql,
            url: "mysql://root@127.0.0.1:3306".into(),
            reason: Reason::new("no answer within 3 s"),
        },
        ServerCallError::StillChanging {
            backend: Backend::MySql,
            database: "testbed_pool_0123456789abcdef_1".into(),
            waited_seconds: 5,
        },
        ServerCallError::Statement {
            backend: Backend::Postgres,
            action: "create the registry `testbed_registry`".into(),
            source: sqlx::Error::PoolTimedOut,
        },
        ServerCallError::File {
            action: "create",
            path: "/tmp/testbed/sqlite".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        },
    ];
    let text: String = errors.iter().map(|error| format!("{error:?}\n")).collect();
    insta::assert_snapshot!(text);
}
