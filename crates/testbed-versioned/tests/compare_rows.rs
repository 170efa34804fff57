//! `CompareObj` against rows real databases return as JSON (SQLite's `json_object`,
//! PostgreSQL's `row_to_json`), from testbed-db's isolated databases.

use serde::Serialize;
use serde_json::Value;
use testbed::Scope;
use testbed::versioned::CompareObj;
use testbed_db::{AnyTestDb, Database};

#[derive(Serialize)]
struct Order {
    id: i64,
    total: f64,
    paid: bool,
    placed_at: String,
    note: Option<String>,
}

static ORDERS: Database = Database::function("compare rows v1", |target| {
    Box::pin(async move {
        match target {
            testbed_db::Target::Sqlite(conn) => {
                sqlx::raw_sql(
                    "create table orders (id integer primary key, total_cents integer, paid integer, placed_at text);
                     insert into orders values (7, 1250, 1, '2024-05-01 08:00:00');",
                )
                .execute(conn)
                .await?;
            }
            testbed_db::Target::Postgres(conn) => {
                sqlx::raw_sql(
                    "create table orders (id bigint primary key, total_cents bigint, paid boolean, placed_at timestamptz);
                     insert into orders values (7, 1250, true, '2024-05-01 08:00:00+00');",
                )
                .execute(conn)
                .await?;
            }
            _ => {}
        }
        Ok(())
    })
});

fn order() -> Order {
    Order {
        id: 7,
        total: 12.5,
        paid: true,
        placed_at: "2024-05-01T10:00:00+02:00".into(),
        note: None,
    }
}

fn comparison() -> CompareObj {
    CompareObj::new()
        .column("total", "total_cents")
        .comparing("total", |value, column| {
            value.as_f64().map(|euros| (euros * 100.0).round()) == column.as_f64()
        })
        .allow_missing("note")
}

#[testbed::test(scenarios(sqlite, postgres))]
async fn a_value_matches_its_row_and_a_difference_is_named(scope: &Scope) {
    let row: Value = match ORDERS.for_scenario(scope).await.unwrap() {
        AnyTestDb::Sqlite(db) => {
            let text: String = sqlx::query_scalar(
                "select json_object('id', id, 'total_cents', total_cents, 'paid', paid, 'placed_at', placed_at) from orders",
            )
            .fetch_one(db.pool())
            .await
            .unwrap();
            serde_json::from_str(&text).unwrap()
        }
        AnyTestDb::Postgres(db) => {
            let text: String = sqlx::query_scalar("select row_to_json(orders)::text from orders")
                .fetch_one(db.pool())
                .await
                .unwrap();
            serde_json::from_str(&text).unwrap()
        }
        other => panic!("not a backend of this test: {other:?}"),
    };
    comparison().check(&order(), &row).unwrap();

    let mut late = order();
    late.placed_at = "2024-05-01T10:00:00Z".into();
    let error = comparison().check(&late, &row).unwrap_err();
    assert_eq!(error.differences.len(), 1, "{error}");
    assert!(error.differences[0].starts_with("`placed_at`:"), "{error}");
    let error = CompareObj::new().check(&order(), &row).unwrap_err();
    assert!(
        error
            .differences
            .contains(&"`total`: the row has no column `total`".to_owned()),
        "{error}"
    );
}
