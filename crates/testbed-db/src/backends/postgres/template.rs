//! Templates: one database per schema hash, built once under an advisory lock by
//! whichever process needs it first, then marked complete by making it a template that
//! accepts no connections. A template left half-built by a crash is not marked, so the
//! next builder drops and rebuilds it.
//!
//! The template's comment records what recycling needs to know about the pristine
//! database: its catalog fingerprint, the objects behind it, and the script that brings
//! a used clone back to the template's rows and sequences.
//!
//! A process that uses a template holds a shared advisory lock on it (on its lease
//! connection, for its whole life) and records when it last did (the database setting
//! `testbed.last_used`, once per process): the sweep of stale templates
//! ([`super::inventory::sweep_stale`]) reads both.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};

use super::catalog;
use super::marks::{LAST_USED_SETTING, TEMPLATE_COMMENT, escape, unescape};
use super::rows::{self, Rows};
use super::server::PgServer;
use super::sql::{self, drop_database, lock_key, run, use_key};
use crate::retry::Pace;
use crate::schema::{Prepared, build_postgres};
use crate::{Backend, DatabaseAcquireError, ServerCallError};

/// A complete template and what recycling its clones needs.
#[derive(Debug)]
pub(crate) struct Template {
    pub(crate) name: String,
    /// The catalog fingerprint of a pristine clone.
    pub(crate) fingerprint: String,
    /// The template's tables, rows and sequences: what a reset brings a clone back to.
    pub(crate) rows: Rows,
    /// What the fingerprint covers, object by object, and the user schemas (see
    /// `catalog::objects`): what a test's additions are undone against.
    pub(crate) objects: Vec<String>,
}

impl Template {
    /// The template's name if it has database settings of its own (made by its
    /// migrations), which each clone must be given: what `marks::mark` copies them from.
    pub(crate) fn settings_source(&self) -> Option<&str> {
        super::catalog::lists_a_setting(&self.objects).then_some(self.name.as_str())
    }
}

/// The templates this process knows to be complete.
static READY: Mutex<Option<HashMap<String, Arc<Template>>>> = Mutex::new(None);

/// Forgets that template `name` was complete (it was dropped since).
pub(crate) fn forget(name: &str) {
    if let Some(ready) = READY.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        ready.remove(name);
    }
}

/// The role whose templates keep the schema's own name ([`Prepared::template_name`]):
/// PostgreSQL's bootstrap superuser, as in the default URL.
const DEFAULT_ROLE: &str = "postgres";

/// The name of `prepared`'s template for `role`. A database cloned from a template
/// keeps the template's owners on every table, so each role needs templates (and so
/// pooled databases) of its own: the role is part of the hash, except for
/// [`DEFAULT_ROLE`], whose templates are named after the schema alone.
pub(crate) fn name_for(prepared: &Prepared, role: &str) -> String {
    name_for_hash(&prepared.hash, role)
}

/// [`name_for`] from the schema's hash alone.
pub(crate) fn name_for_hash(hash: &str, role: &str) -> String {
    if role == DEFAULT_ROLE {
        return format!("{}{hash}", crate::owner::TEMPLATE_PREFIX);
    }
    let digest = Sha256::digest(format!("{hash}\nrole {role}").as_bytes());
    format!(
        "{}{}",
        crate::owner::TEMPLATE_PREFIX,
        crate::owner::hex(&digest[..8])
    )
}

/// Makes sure the template of `prepared` exists and is complete; says whether this call
/// built it (callers then sweep the stale templates: see
/// [`inventory::ensure_template`](super::inventory::ensure_template)).
pub(crate) async fn ensure(
    server: &PgServer,
    prepared: &Prepared,
) -> Result<(Arc<Template>, bool), DatabaseAcquireError> {
    let name = name_for(prepared, &server.role);
    if let Some(found) = READY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_default()
        .get(&name)
    {
        return Ok((found.clone(), false));
    }
    // The use lock is held before the template is read, so a sweep either sees this
    // process as a user or has finished dropping the template (then it is rebuilt).
    let (found, last_used) = hold_use_and_read(server, &name).await?;
    let (template, built) = match found {
        Some(template) => (template, false),
        None => (build(server, prepared, &name).await?, true),
    };
    // A template's last use only matters in days: recorded at most once an hour, so
    // that a test process does not write the catalog for it.
    let stale_after = SystemTime::now()
        .checked_sub(crate::retention::TOUCH_TEMPLATE_EVERY)
        .unwrap_or(UNIX_EPOCH);
    if built || last_used < stale_after {
        touch(server, &name).await;
    }
    let template = Arc::new(template);
    READY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_default()
        .insert(name.clone(), template.clone());
    Ok((template, built))
}

/// Template `name` if it exists and is complete, taking its use lock for the life of
/// the process as [`ensure`] does; `None` if it is not there (it is built by a process
/// that has its schema).
pub(crate) async fn existing(
    server: &PgServer,
    name: &str,
) -> Result<Option<Arc<Template>>, ServerCallError> {
    if let Some(found) = READY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_default()
        .get(name)
    {
        return Ok(Some(found.clone()));
    }
    let (found, _) = hold_use_and_read(server, name).await?;
    let Some(template) = found else {
        return Ok(None);
    };
    let template = Arc::new(template);
    READY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_default()
        .insert(name.to_owned(), template.clone());
    Ok(Some(template))
}

/// Whether the use lock was taken, then the template's `datistemplate`,
/// `datallowconn`, comment and settings (all `None` when there is no such database).
type UseAndState = (
    bool,
    Option<bool>,
    Option<bool>,
    Option<String>,
    Option<Vec<String>>,
);

/// Takes the shared use lock of template `name` on the lease, for the life of the
/// process, waiting out a sweep that holds it exclusively; and in the same round trip
/// reads the template (if it is complete) and when it was last used.
async fn hold_use_and_read(
    server: &PgServer,
    name: &str,
) -> Result<(Option<Template>, SystemTime), ServerCallError> {
    let fail =
        |e| ServerCallError::statement(Backend::Postgres, format!("lock template `{name}`"), e);
    let mut pacer = Pace {
        first: Duration::from_millis(10),
        most: Duration::from_millis(100),
        within: Duration::from_secs(60),
    }
    .start();
    loop {
        let row: UseAndState = {
            let mut lease = server.lease.lock().await;
            sqlx::query_as(
                "select pg_try_advisory_lock_shared($1), d.datistemplate, d.datallowconn,
                        shobj_description(d.oid, 'pg_database'), s.setconfig
                 from (select) one
                 left join pg_database d on d.datname = $2
                 left join pg_db_role_setting s on s.setdatabase = d.oid and s.setrole = 0",
            )
            .bind(use_key(name))
            .bind(name)
            .fetch_one(&mut *lease)
            .await
            .map_err(fail)?
        };
        let (held, is_template, allows_connections, comment, settings) = row;
        if held {
            let template = match (is_template, allows_connections, comment) {
                (Some(true), Some(false), Some(comment)) => parse_comment(name, &comment),
                _ => None,
            };
            return Ok((template, super::marks::last_used(settings.as_deref())));
        }
        // Not on the lease while waiting: this process's other tests need it.
        if !pacer.pause().await {
            break;
        }
    }
    Err(ServerCallError::failed(
        Backend::Postgres,
        format!("lock template `{name}`"),
        "a sweep held it for over a minute",
    ))
}

/// Records that template `name` is used now. Best effort: a template whose time could
/// not be recorded is only swept earlier, never while in use.
async fn touch(server: &PgServer, name: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    let mut lease = server.lease.lock().await;
    let _ = run(
        &mut lease,
        format!(r#"alter database "{name}" set {LAST_USED_SETTING} = '{now}'"#),
    )
    .await;
}

/// The template `name` if it is complete.
async fn read(server: &PgServer, name: &str) -> Result<Option<Template>, ServerCallError> {
    let mut lease = server.lease.lock().await;
    let state: Option<(bool, bool, Option<String>)> = sqlx::query_as(
        "select datistemplate, datallowconn, shobj_description(oid, 'pg_database')
         from pg_database where datname = $1",
    )
    .bind(name)
    .fetch_optional(&mut *lease)
    .await
    .map_err(|e| ServerCallError::statement(Backend::Postgres, "look up the template", e))?;
    drop(lease);
    Ok(match state {
        Some((true, false, Some(comment))) => parse_comment(name, &comment),
        _ => None,
    })
}

/// `testbed template`, `fingerprint <md5>`, `objects <n>` and the n objects (a line
/// each, escaped), then the rows' lines ([`Rows::to_lines`]).
fn comment_of(template: &Template) -> String {
    let mut comment = format!(
        "{TEMPLATE_COMMENT}\nfingerprint {}\nobjects {}\n",
        template.fingerprint,
        template.objects.len()
    );
    for object in &template.objects {
        comment.push_str(&escape(object));
        comment.push('\n');
    }
    comment.push_str(&template.rows.to_lines());
    comment
}

fn parse_comment(name: &str, comment: &str) -> Option<Template> {
    let rest = comment.strip_prefix(TEMPLATE_COMMENT)?.strip_prefix('\n')?;
    let (fingerprint, rest) = rest.strip_prefix("fingerprint ")?.split_once('\n')?;
    let (count, mut lines) = rest.strip_prefix("objects ")?.split_once('\n')?;
    let mut objects = Vec::new();
    for _ in 0..count.parse::<usize>().ok()? {
        let (object, after) = lines.split_once('\n')?;
        objects.push(unescape(object));
        lines = after;
    }
    Some(Template {
        name: name.to_owned(),
        fingerprint: fingerprint.to_owned(),
        rows: Rows::from_lines(lines)?,
        objects,
    })
}

async fn build(
    server: &PgServer,
    prepared: &Prepared,
    name: &str,
) -> Result<Template, DatabaseAcquireError> {
    let fail = |action: &str| {
        let action = format!("{action} template `{name}`");
        move |e| ServerCallError::statement(Backend::Postgres, action, e)
    };
    // A connection of its own: if this process dies, the lock goes with it.
    let mut locker = PgConnection::connect_with(&server.admin)
        .await
        .map_err(fail("connect to build"))?;
    sqlx::query("select pg_advisory_lock($1)")
        .bind(lock_key(name))
        .execute(&mut locker)
        .await
        .map_err(fail("lock"))?;
    let result = async {
        if let Some(template) = read(server, name).await? {
            return Ok(template); // another process built it while this one waited
        }
        // A database of that name that is not complete is a build cut short only if a
        // builder recorded its intent (it is dead: this process holds the build lock).
        // A name is no proof: one made by hand is left alone, and the build refused.
        // One that carries testbed's mark is testbed's, and can only be dropped: a
        // template whose drop was cut off (left invalid, `datconnlimit = -2`), or one
        // whose comment this testbed cannot read (written by a build of another layout
        // that kept the same name).
        let (exists, intended, marked): (bool, bool, bool) = sqlx::query_as(
            "select exists (select from pg_database where datname = $1),
                    exists (select from intents where datname = $1),
                    exists (select from pg_database where datname = $1
                              and starts_with(shobj_description(oid, 'pg_database'), $2))",
        )
        .bind(name)
        .bind(TEMPLATE_COMMENT)
        .fetch_one(&mut locker)
        .await
        .map_err(fail("look for a half-built"))?;
        if exists && !intended && !marked {
            return Err(ServerCallError::failed(
                Backend::Postgres,
                format!("build template `{name}`"),
                format!(
                    "a database `{name}` exists that testbed did not create (no mark, no \
                     recorded intent) (hint: drop or rename it)"
                ),
            )
            .into());
        }
        if exists {
            drop_database(&mut locker, name)
                .await
                .map_err(fail("drop the half-built"))?;
        }
        super::intent::forget_all(&mut locker, name).await?;
        if !super::intent::record(&mut locker, name).await? {
            return Err(ServerCallError::failed(
                Backend::Postgres,
                format!("build template `{name}`"),
                format!("`{name}` appeared while this process held its build lock"),
            )
            .into());
        }
        run(&mut locker, format!(r#"create database "{name}""#))
            .await
            .map_err(fail("create"))?;
        let mut conn = PgConnection::connect_with(&server.options_for(name))
            .await
            .map_err(fail("connect to"))?;
        // The template is only marked complete at the end: a lost commit is a rebuild.
        let _ = run(&mut conn, "set synchronous_commit = off".to_owned()).await;
        let built = build_postgres(prepared, &mut conn).await;
        let described = match built {
            Ok(()) => describe(&mut conn, name).await.map_err(Into::into),
            Err(error) => Err(error),
        };
        let _ = conn.close().await;
        let template = match described {
            Ok(template) => template,
            Err(error) => {
                // Leave nothing behind: the next attempt starts from scratch anyway.
                let _ = drop_database(&mut locker, name).await;
                return Err(error);
            }
        };
        let comment = comment_of(&template).replace('\'', "''");
        run(
            &mut locker,
            format!(r#"comment on database "{name}" is '{comment}'"#),
        )
        .await
        .map_err(fail("mark"))?;
        // Marked complete last: no connection may open on it from now on, so clones never
        // meet "source database is being accessed by other users".
        run(
            &mut locker,
            format!(r#"alter database "{name}" with is_template true allow_connections false"#),
        )
        .await
        .map_err(fail("complete"))?;
        super::intent::clear(&mut locker, name).await?;
        Ok::<_, DatabaseAcquireError>(template)
    }
    .await;
    let _ = locker.close().await;
    result
}

async fn describe(conn: &mut PgConnection, name: &str) -> Result<Template, ServerCallError> {
    Ok(Template {
        name: name.to_owned(),
        fingerprint: catalog::fingerprint(&mut *conn).await?,
        objects: catalog::objects(&mut *conn).await?,
        rows: rows::snapshot(conn).await?,
    })
}

/// `CREATE DATABASE name TEMPLATE template`, with the strategy that is faster on this
/// server, waiting a little for sessions still leaving the template.
pub(crate) async fn create_clone(
    conn: &mut sqlx::PgConnection,
    server: &PgServer,
    template: &str,
    name: &str,
) -> Result<(), sqlx::Error> {
    let strategy = match (server.version >= 150000, server.durable) {
        (false, _) => "",
        (true, true) => " strategy wal_log",
        (true, false) => " strategy file_copy",
    };
    let mut pacer = Pace {
        first: Duration::from_millis(20),
        most: Duration::from_millis(200),
        within: Duration::from_secs(1),
    }
    .start();
    loop {
        let sql = format!(r#"create database "{name}" template "{template}"{strategy}"#);
        match sql::run(conn, sql).await {
            // Someone connected to the template in spite of allow_connections false (a
            // superuser's psql, say): wait for them a little, then give up.
            Err(error) if sql::is_busy(&error) && pacer.pause().await => drop(error),
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Rows, Template, comment_of, parse_comment};

    #[test]
    fn a_comment_gives_back_the_template_it_was_written_from() {
        let rows = Rows::from_lines("table a\nreferences \nsequence 1 false public.s\n").unwrap();
        let template = Template {
            name: "testbed_tpl_00".into(),
            fingerprint: "abc".into(),
            rows: rows.clone(),
            objects: vec!["public a r".into(), "odd\nname \\ r".into()],
        };
        let parsed = parse_comment("testbed_tpl_00", &comment_of(&template)).unwrap();
        assert_eq!(parsed.fingerprint, "abc");
        assert_eq!(parsed.objects, template.objects);
        assert_eq!(parsed.rows, rows);
    }

    #[test]
    fn a_comment_of_another_layout_is_not_a_template() {
        let old = "testbed template\nfingerprint abc\ndelete from a;\n";
        assert!(parse_comment("testbed_tpl_00", old).is_none());
    }
}
