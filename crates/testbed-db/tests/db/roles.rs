//! Two PostgreSQL roles on one server (a server of the test's own, with a second role
//! that logs in with a password): each role's runs get templates and pooled databases
//! of their own, every strategy works for both, neither's runs or `prune --templates`
//! fail over, or drop, the other's databases, and the password is never printed.

use std::process::{Command, Output};

use testbed::{Outcome, Scope};
use testbed_db::admin::PruneOptions;
use testbed_db::{Backend, DatabaseAcquireError, Isolation};

use crate::SHOP;
use crate::faults::PrivatePostgres;

static SHOP_ROLLED_BACK: testbed_db::Database = testbed_db::migrations!("tests/schema")
    .with_seeds(testbed_db::seeds!["tests/seeds/base.sql"])
    .isolation(Isolation::Rollback);

const SECRET: &str = "hunter2-roles";

fn psql(server: &PrivatePostgres, sql: &str) {
    let output = Command::new("psql")
        .args([&server.url(), "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn run_as(url: &str) -> Output {
    crate::child::run(
        "child::child_uses_every_strategy",
        &[("TESTBED_POSTGRES_URL", url)],
    )
}

fn said(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "the password was printed:\n{stdout}\n{stderr}"
    );
    assert!(
        output.status.success(),
        "the child failed:\n{stdout}\n{stderr}"
    );
    stdout
        .lines()
        .find_map(|line| line.find("RESULT ").map(|at| line[at..].to_owned()))
        .unwrap_or_else(|| panic!("the child said nothing: {stdout}"))
}

#[testbed::test]
fn two_roles_share_a_server_each_with_its_own_databases() {
    let server = PrivatePostgres::start();
    psql(
        &server,
        &format!("create role app login createdb password '{SECRET}'"),
    );
    let admin = server.url();
    let app = admin.replace("postgres@", &format!("app:{SECRET}@"));
    // The superuser first: it makes the registry, and templates under the schema's name.
    assert_eq!(said(&run_as(&admin)), "RESULT ok");
    // The second role: a template and a pool of its own, on the shared registry.
    assert_eq!(said(&run_as(&app)), "RESULT ok");
    // Each again, now that the other's databases are there.
    assert_eq!(said(&run_as(&admin)), "RESULT ok");
    assert_eq!(said(&run_as(&app)), "RESULT ok");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mine = testbed_db::admin::status(Backend::Postgres, Some(&app))
            .await
            .expect("the second role's status");
        assert!(
            !mine.is_empty()
                && mine.iter().all(|held| {
                    let template = SHOP.template_name(Backend::Postgres).unwrap();
                    !held
                        .name
                        .contains(template.trim_start_matches("testbed_tpl_"))
                }),
            "the second role lists its own databases, never the superuser's: {mine:?}"
        );
        // The second role's prune leaves the superuser's templates alone, and fails
        // over none of them.
        let options = PruneOptions {
            templates: true,
            kept: true,
        };
        testbed_db::admin::prune(Backend::Postgres, Some(&app), options)
            .await
            .expect("the second role prunes its own");
        let left = testbed_db::admin::status(Backend::Postgres, Some(&admin))
            .await
            .unwrap();
        assert!(
            left.iter()
                .any(|held| held.name == SHOP.template_name(Backend::Postgres).unwrap()),
            "the superuser's template is still there: {left:?}"
        );
    });
    assert_eq!(said(&run_as(&app)), "RESULT ok");
}

/// Each strategy twice, with writes the next test must not see (a row added, a
/// referenced seed row changed); says `RESULT ok` or the error.
pub async fn use_every_strategy() {
    let result = async {
        for _ in 0..2 {
            for database in [&SHOP, &SHOP_ROLLED_BACK, &crate::SHOP_CLONES] {
                let scope = Scope::new("role child");
                let db = database.try_postgres(&scope).await?;
                let users: i64 = sqlx::query_scalar("select count(*) from users")
                    .fetch_one(db.pool())
                    .await
                    .map_err(|e| format!("count: {e}"))
                    .unwrap();
                let ada: String =
                    sqlx::query_scalar("select u.name from memberships m join users u on u.id = m.user_id")
                        .fetch_one(db.pool())
                        .await
                        .map_err(|e| format!("the seed membership: {e}"))
                        .unwrap();
                assert_eq!(users, 2, "{} starts from the seed rows", db.name());
                assert_eq!(ada, "Ada", "{} starts from the seed rows", db.name());
                sqlx::query("insert into users (email, name, created_at) values ('x@example.com', 'X', '2024-01-01 00:00:00')")
                    .execute(db.pool())
                    .await
                    .unwrap();
                // A seed row changed in place, that a seed row of `memberships`
                // references: reset without superuser rights, `users` can only be
                // emptied once `memberships` is.
                sqlx::query("update users set name = 'Ada!' where name = 'Ada'")
                    .execute(db.pool())
                    .await
                    .unwrap();
                if let Err(report) = scope.finish_async(Outcome::Passed).await {
                    panic!("release failed: {report:?}");
                }
            }
        }
        Ok::<(), DatabaseAcquireError>(())
    }
    .await;
    match result {
        Ok(()) => println!("RESULT ok"),
        Err(error) => println!("RESULT {error}"),
    }
}
