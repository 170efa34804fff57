//! The registry database, `testbed_registry`: where every process's lease lives, and
//! the ledger that makes handing a pooled database from one process to the next safe.
//!
//! Every process connects its lease here, so every advisory lock testbed takes (claims
//! of pooled databases, template builds and uses) is in this one database's lock space.
//! The registry holds:
//! - `intents`: names a process is about to create (see `intent`);
//! - `pooled`: the state of each pooled database, `clean` only from the moment its last
//!   holder finished resetting it to the moment the next one claims it, and when a
//!   test last got it (see `shrink`);
//! - `sweeps`: when the orphan sweep last ran, so that one process in a while sweeps,
//!   not every test process;
//! - `testbed_claim_<hash>`: the claim itself, one round trip (see [`CLAIM_SQL`]).
//!
//! The registry is created on first use by whichever process gets there first; a
//! process that loses the race (`42P04`, or `23505` when both inserted the catalog row
//! at once) uses the one the winner made. Its tables and function are made under a
//! transaction-level advisory lock, so two processes never collide in the catalog.

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use super::sql::{self, has_code};
use crate::{Backend, ServerCallError};

/// The registry database.
pub(crate) const REGISTRY: &str = "testbed_registry";
/// The registry's comment.
pub(crate) const REGISTRY_COMMENT: &str = "testbed registry";
/// Serialises the making of the registry's tables between processes.
const SCHEMA_LOCK: i64 = 7474656462656402;

/// The claim function's name: `testbed_claim_` and a hash of its definition, so that a
/// process never calls another version's claim, and the registry's schema is made
/// again when the definition changes.
pub(crate) fn claim_function() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{KEY_SQL}{CLAIM_SQL}").as_bytes());
        format!("testbed_claim_{}", crate::owner::hex(&digest[..6]))
    })
}

/// The claim function's signature, as `to_regprocedure` reads it.
pub(crate) fn claim_signature() -> String {
    format!("{}(text,text,text[])", claim_function())
}

/// How long a claim waits for the sessions it ends on a claimed database to be gone.
macro_rules! evict_wait {
    () => {
        "5 seconds"
    };
}

fn fail(action: &'static str) -> impl Fn(sqlx::Error) -> ServerCallError {
    move |e| ServerCallError::statement(Backend::Postgres, action, e)
}

/// Whether `error` says the database does not exist (`3D000`).
pub(crate) fn is_missing(error: &sqlx::Error) -> bool {
    sql::is_missing(error)
}

/// Creates the registry from the maintenance database at `maintenance`, unless another
/// process did first, and marks it.
pub(crate) async fn create(maintenance: &PgConnectOptions) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect_with(maintenance).await?;
    let made = sql::run(&mut conn, format!(r#"create database "{REGISTRY}""#)).await;
    let result = match made {
        Ok(()) => Ok(()),
        // Made by another process: before us (42P04) or at the same moment (23505 on
        // the catalog's unique name index).
        Err(error) if has_code(&error, "42P04") || has_code(&error, "23505") => Ok(()),
        Err(error) => Err(error),
    };
    let result = match result {
        // Marked every time: a process killed before marking leaves it unmarked. Its
        // commits need not wait for the disk: what it records is either re-done or
        // proven again by the next `CREATE DATABASE`, which flushes the log.
        Ok(()) => {
            sql::run(
                &mut conn,
                format!(
                    r#"comment on database "{REGISTRY}" is '{REGISTRY_COMMENT}';
                   alter database "{REGISTRY}" set synchronous_commit = off"#
                ),
            )
            .await
        }
        Err(error) => Err(error),
    };
    let _ = conn.close().await;
    result
}

/// Makes the registry's tables and functions on `lease` (connected to the registry) if
/// they are not there yet.
pub(crate) async fn ensure_schema(lease: &mut PgConnection) -> Result<(), ServerCallError> {
    let script = format!(
        "begin;
         select pg_advisory_xact_lock({SCHEMA_LOCK});
         create table if not exists intents (
           datname text not null,
           owner text not null,
           pid integer not null,
           since timestamptz not null default now(),
           primary key (datname, owner)
         );
         create table if not exists pooled (
           datname text primary key,
           clean boolean not null default false,
           clean_by text
         );
         create table if not exists sweeps (
           one boolean primary key default true check (one),
           at timestamptz not null
         );
         alter table pooled add column if not exists claimed_at timestamptz;
         insert into sweeps (at) values ('epoch') on conflict do nothing;
         grant select, insert, update, delete on intents, pooled, sweeps to public;
         comment on database {REGISTRY} is '{REGISTRY_COMMENT}';
         alter database {REGISTRY} set synchronous_commit = off;
         {KEY_SQL}
         {claim}
         commit;",
        claim = CLAIM_SQL.replacen("testbed_claim(", &format!("{}(", claim_function()), 1)
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(script))
        .execute(&mut *lease)
        .await
        .map_err(|error| {
            let hint = if has_code(&error, "42501") {
                " (hint: another role made the registry with an older testbed-db, which did not share it: run a test once as that role, or a superuser, to share it)"
            } else {
                ""
            };
            ServerCallError::statement(
                Backend::Postgres,
                format!("make the tables of `testbed_registry`{hint}"),
                error,
            )
        })?;
    Ok(())
}

/// The advisory-lock key of pooled database `name`, as SQL computes it: the first eight
/// bytes of its SHA-256, big-endian. [`pool_key`] is the same in Rust.
const KEY_SQL: &str = "create or replace function testbed_pool_key(name text) returns bigint
  language sql immutable strict
  as $$ select ('x' || left(encode(sha256(convert_to(name, 'UTF8')), 'hex'), 16))::bit(64)::bigint $$;";

/// The advisory-lock key held, for the whole statement, by the session that creates
/// or drops pooled database `name`: as the claim function computes it.
pub(crate) fn existence_key(name: &str) -> i64 {
    pool_key(&format!("testbed exists {name}"))
}

/// The advisory-lock key of pooled database `name` (see [`KEY_SQL`]).
pub(crate) fn pool_key(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// Claims a free pooled database of one template in one round trip.
///
/// Arguments: the pool's name prefix (`testbed_pool_<hash>_`), the comment that marks
/// a pooled database, and the names this process holds already (advisory locks are
/// re-entrant within a session, so the lock alone would hand them out twice).
///
/// For the first marked database whose claim lock it gets, it ends every other session
/// connected to it and waits for them to be gone: a holder that died mid-test or
/// mid-reset may have left a statement running, and no one else may touch a database
/// this process now holds. The database is `clean` (usable as it is) only if the
/// ledger says its last holder finished resetting it and the only sessions found were
/// that holder's own idle pool connections; either way the ledger now says it is not
/// clean, until this process resets it again. A database left invalid by an
/// interrupted `DROP DATABASE` comes back with `invalid`, to be dropped.
///
/// With nothing free, the one row has a null name. `next_serial` is one more than the
/// largest serial of any database with the prefix (marked or not), for a new clone.
const CLAIM_SQL: &str = concat!(
    "create or replace function testbed_claim(prefix text, pooled_comment text, skip text[])
  returns table (claimed text, clean boolean, invalid boolean, next_serial integer)
  language plpgsql as $claim$
declare
  candidate record;
  top integer;
  was_clean boolean;
  trusted text;
  strays integer;
  deadline timestamptz;
begin
  select coalesce(max(substr(d.datname, length(prefix) + 1)::integer), 0) into top
    from pg_database d
    where starts_with(d.datname, prefix)
      and substr(d.datname, length(prefix) + 1) ~ '^[0-9]{1,9}$';
  for candidate in
    select d.datname::text as name, d.datconnlimit = -2 as bad
      from pg_database d
      where starts_with(d.datname, prefix)
        and shobj_description(d.oid, 'pg_database') = pooled_comment
        and pg_has_role(d.datdba, 'member')
        and not (d.datname = any(skip))
      order by d.datname
  loop
    if not pg_try_advisory_lock(testbed_pool_key(candidate.name)) then
      continue;
    end if;
    -- A `CREATE DATABASE` or `DROP DATABASE` of it still runs (its holder died): pass.
    if not pg_try_advisory_lock(testbed_pool_key('testbed exists ' || candidate.name)) then
      perform pg_advisory_unlock(testbed_pool_key(candidate.name));
      continue;
    end if;
    perform pg_advisory_unlock(testbed_pool_key('testbed exists ' || candidate.name));
    if candidate.bad then
      return query select candidate.name, false, true, top + 1;
      return;
    end if;
    select p.clean, p.clean_by into was_clean, trusted
      from pooled p where p.datname = candidate.name;
    -- The holder that reset it last may have left its pool's sessions, idle: they are
    -- leaving with their process, or closed by it before it let go. Any other session
    -- (a holder killed mid-test, a statement still running) is ended, waited for, and
    -- makes this claim reset the database.
    select count(*) into strays from pg_stat_activity a
      where a.datname = candidate.name and a.pid <> pg_backend_pid()
        and not (coalesce(was_clean, false) and a.state = 'idle'
                 and a.application_name = 'testbed-pool-' || trusted);
    if strays > 0 then
      begin
        perform pg_terminate_backend(a.pid) from pg_stat_activity a
          where a.datname = candidate.name and a.pid <> pg_backend_pid();
      exception when insufficient_privilege then
        -- Another role's session: this database is not ours to take over.
        perform pg_advisory_unlock(testbed_pool_key(candidate.name));
        continue;
      end;
      deadline := clock_timestamp() + interval '",
    evict_wait!(),
    "';
      loop
        perform pg_stat_clear_snapshot();
        exit when not exists (select from pg_stat_activity a
                              where a.datname = candidate.name
                                and a.pid <> pg_backend_pid());
        if clock_timestamp() > deadline then
          raise exception 'testbed: sessions on % did not end within ",
    evict_wait!(),
    "', candidate.name
            using errcode = 'TBEVI';
        end if;
        perform pg_sleep(0.001);
      end loop;
    end if;
    insert into pooled (datname, clean, clean_by, claimed_at)
      values (candidate.name, false, null, now())
      on conflict (datname) do update set clean = false, clean_by = null, claimed_at = now();
    return query select candidate.name, coalesce(was_clean, false) and strays = 0, false, top + 1;
    return;
  end loop;
  return query select null::text, false, false, top + 1;
end
$claim$;"
);

/// Records that this process finished resetting `name`: the next claimer may use it as
/// it is, unless it finds other sessions than this process's idle pool connections.
/// `name` was needed until now, which the pool's high-water mark reads (`claimed_at`).
pub(crate) async fn mark_clean(
    lease: &mut PgConnection,
    name: &str,
    token: &str,
) -> Result<(), ServerCallError> {
    sqlx::query(
        "insert into pooled (datname, clean, clean_by, claimed_at) values ($1, true, $2, now())
         on conflict (datname) do update set clean = true, clean_by = $2, claimed_at = now()",
    )
    .bind(name)
    .bind(token)
    .execute(&mut *lease)
    .await
    .map_err(fail("record a reset pooled database in `testbed_registry`"))?;
    Ok(())
}

/// Records that `name` is in use (no longer clean) before a test gets it.
pub(crate) async fn mark_in_use(
    lease: &mut PgConnection,
    name: &str,
) -> Result<(), ServerCallError> {
    sqlx::query(
        "insert into pooled (datname, clean, clean_by, claimed_at) values ($1, false, null, now())
         on conflict (datname) do update set clean = false, clean_by = null, claimed_at = now()",
    )
    .bind(name)
    .execute(&mut *lease)
    .await
    .map_err(fail(
        "record a pooled database in use in `testbed_registry`",
    ))?;
    Ok(())
}

/// Forgets the ledger row of `name` (dropped).
pub(crate) async fn forget(lease: &mut PgConnection, name: &str) {
    let _ = sqlx::query("delete from pooled where datname = $1")
        .bind(name)
        .execute(&mut *lease)
        .await;
}

/// Whether this process should run the orphan sweep now: at most one process in
/// `every_seconds` does, across every process sharing the server.
pub(crate) async fn sweep_due(lease: &mut PgConnection, every_seconds: u32) -> bool {
    sqlx::query(
        "update sweeps set at = now()
         where at < now() - make_interval(secs => $1::double precision)",
    )
    .bind(every_seconds as f64)
    .execute(&mut *lease)
    .await
    .is_ok_and(|done| done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claim_function_is_the_one_looked_for() {
        assert!(CLAIM_SQL.contains(concat!("interval '", evict_wait!(), "'")));
        assert!(CLAIM_SQL.starts_with("create or replace function testbed_claim("));
        assert!(claim_signature().starts_with(claim_function()));
    }

    #[test]
    fn the_claim_trusts_the_pools_application_name() {
        let trusted = format!(
            "a.application_name = '{}' || trusted",
            super::super::marks::POOL_APPLICATION_PREFIX
        );
        assert!(CLAIM_SQL.contains(&trusted));
    }

    #[test]
    fn pool_keys_are_the_digests_first_bytes_big_endian() {
        // sha256("abc") = ba7816bf 8f01cfea ...
        assert_eq!(pool_key("abc"), 0xba7816bf8f01cfea_u64 as i64);
    }
}
