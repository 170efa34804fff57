//! Secrets are never printed: every run below fails or reports with a password in its
//! URL (in the user info, or as the `password` or `sslpassword` query parameter), on a
//! PostgreSQL of the test's own that asks passwords, and all it printed, stdout and
//! stderr, is searched for each secret.

use std::process::Output;

use crate::faults::PrivatePostgres;

const RIGHT: &str = "Right-Secret-7a1";
const WRONG: &str = "Wrong-Secret-5c2";
const SSL: &str = "Ssl-Secret-9d3";

fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [RIGHT, WRONG, SSL] {
        assert!(!text.contains(secret), "{what} printed {secret}:\n{text}");
    }
}

#[testbed::test]
fn no_failing_run_prints_a_password() {
    let server = PrivatePostgres::start();
    let create = format!("create role app login createdb password '{RIGHT}'");
    let status = std::process::Command::new("psql")
        .args([&server.url(), "-c", &create])
        .output()
        .expect("psql runs");
    assert!(status.status.success(), "create the role");
    server.require_passwords();
    let port = server.port();
    let base = format!("127.0.0.1:{port}/postgres");

    // Refused: a wrong password, and an SSL key password, in the user info and query.
    let wrong = format!("postgres://app:{WRONG}@{base}?sslpassword={SSL}");
    let output = crate::child::run(
        "child::child_fails_with_a_postgres_database",
        &[("TESTBED_POSTGRES_URL", &wrong)],
    );
    assert!(!output.status.success(), "a refused connection fails");
    let text = printed(&output);
    assert!(
        text.contains("app:***@"),
        "the URL is named, redacted: {text}"
    );
    assert_no_secret("a refused run", &text);

    // The same password as a query parameter.
    let in_query = format!("postgres://app@{base}?password={WRONG}&sslpassword={SSL}");
    let output = crate::child::run(
        "child::child_fails_with_a_postgres_database",
        &[("TESTBED_POSTGRES_URL", &in_query)],
    );
    assert!(!output.status.success(), "a refused connection fails");
    assert_no_secret("a refused run, password in the query", &printed(&output));

    // Accepted: a failing test whose database is kept prints the database's URL.
    let right = format!("postgres://app:{RIGHT}@{base}?sslpassword={SSL}");
    let output = crate::child::run(
        "child::child_fails_with_a_postgres_database",
        &[
            ("TESTBED_POSTGRES_URL", &right),
            ("TESTBED_KEEP_FAILED", "1"),
        ],
    );
    let text = printed(&output);
    assert!(text.contains("kept the failing test's"), "{text}");
    assert_no_secret("a kept database's announcement", &text);

    // Lost mid-run: the error names the server.
    let right_in_query = format!("postgres://app@{base}?password={RIGHT}");
    let output = crate::child::run(
        "child::child_loses_its_server",
        &[
            ("TESTBED_POSTGRES_URL", &right_in_query),
            ("TESTBED_DB_FAULTS_SERVER", &server.control()),
        ],
    );
    let text = printed(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("which answered earlier in this run"),
        "{text}"
    );
    assert_no_secret("a lost server's errors", &text);

    // Status and prune, as `cargo testbed` reports them.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for url in [&wrong, &in_query, &right, &right_in_query] {
        let reported = runtime.block_on(async {
            use testbed_db::{Backend, admin};
            let status = admin::status(Backend::Postgres, Some(url)).await;
            let prune = admin::prune(Backend::Postgres, Some(url), Default::default()).await;
            format!("{status:?}\n{prune:?}")
        });
        assert_no_secret("status and prune", &reported);
    }
}
