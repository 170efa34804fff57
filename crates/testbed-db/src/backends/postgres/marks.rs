//! How testbed marks, on a PostgreSQL server, what is its own: the comments on its
//! templates, pooled and kept databases, the setting that records a template's last use,
//! and the application names of its sessions; and how a template's comment keeps any text
//! on one line. Nothing here talks to the server; every other PostgreSQL module reads
//! these names from here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The start of the comment that marks a database as a testbed template.
pub(crate) const TEMPLATE_COMMENT: &str = "testbed template";

/// The setting that records when a template was last used, in Unix milliseconds.
pub(crate) const LAST_USED_SETTING: &str = "testbed.last_used";

/// The comment of a failing test's database kept for inspection.
pub(crate) const KEPT_COMMENT: &str = "testbed kept";

/// The start of the comment of a database handed to its owner (a kept one's template).
pub(crate) const OWNED_PREFIX: &str = "testbed owner";

/// The comment that says a database belongs to template `template`'s owner.
pub(crate) fn owned_comment(template: &str) -> String {
    format!("{OWNED_PREFIX} of {template}")
}

/// When a template was last used, from its `testbed.last_used` setting; a template
/// without one (built before testbed recorded it) counts as long unused.
pub(crate) fn last_used(settings: Option<&[String]>) -> SystemTime {
    let prefix = format!("{}=", LAST_USED_SETTING);
    settings
        .unwrap_or_default()
        .iter()
        .find_map(|setting| setting.strip_prefix(&prefix)?.parse::<u64>().ok())
        .map(|millis| UNIX_EPOCH + Duration::from_millis(millis))
        .unwrap_or(UNIX_EPOCH)
}

/// The comment of a pooled database of this version of the hand-over protocol.
pub(crate) const POOL_COMMENT: &str = "testbed pool v2";

/// The comment of pooled databases of earlier versions, left alone by runs and dropped
/// by `cargo testbed db prune --templates`.
pub(crate) const LEGACY_POOL_COMMENT: &str = "testbed pool";

/// The application name of recycled pools' connections, before the owner token: the
/// claim function trusts the idle sessions of the holder that reset a database last.
pub(crate) const POOL_APPLICATION_PREFIX: &str = "testbed-pool-";

/// Names the lease connection of each owner token.
pub(crate) const LEASE_PREFIX: &str = "testbed-owner-";

/// Names the admin connections of each owner token: the backend running a process's
/// `CREATE DATABASE` shows under it until the statement ends, even after the process
/// is gone.
pub(crate) const ADMIN_PREFIX: &str = "testbed-admin-";

/// Marks a new test database as testbed's (its comment), tunes it for tests (its
/// commits do not wait for the disk: a test database is thrown away or reset anyway, so
/// what a server crash could lose does not matter, and on a disk-backed server every
/// commit would otherwise wait milliseconds), and, with `settings_of` (the template it
/// was cloned from, when that has settings of its own: `Template::settings_source`),
/// gives it the template's settings (`ALTER DATABASE ... SET`, `ALTER ROLE ... IN
/// DATABASE ... SET`, made by its migrations), which `CREATE DATABASE` does not copy.
/// Each setting is set for the transaction first and stored `FROM CURRENT`, which takes
/// its value as the server wrote it, a list (`search_path`) included; one that cannot be
/// set in a transaction (one read only at a session's start) is stored as its text. The
/// copy is a PL/pgSQL block, which costs 0.65-0.75 ms on a session that ran one before
/// and about 4 ms on one that did not: it is left out when there is nothing to copy.
/// One round trip, one commit.
pub(crate) fn mark(name: &str, comment: &str, settings_of: Option<&str>) -> String {
    let marked = format!(
        r#"comment on database "{name}" is '{comment}';
           alter database "{name}" set synchronous_commit = off"#
    );
    let Some(template) = settings_of else {
        return marked;
    };
    let own = own_setting("entry");
    format!(
        r#"{marked};
           do $copy$ declare s record; stored text; begin
             for s in select r.rolname, split_part(entry, '=', 1) as setting,
                             substr(entry, strpos(entry, '=') + 1) as value
                        from pg_db_role_setting d cross join unnest(d.setconfig) entry
                        left join pg_roles r on r.oid = d.setrole
                       where d.setdatabase = (select oid from pg_database
                                              where datname = '{template}')
                         and not {own}
             loop
               begin
                 perform set_config(s.setting, s.value, true);
                 stored := 'from current';
               exception when others then
                 stored := format('= %L', s.value);
               end;
               if s.rolname is null then
                 execute format('alter database %I set %I %s', '{name}', s.setting, stored);
               else
                 execute format('alter role %I in database %I set %I %s',
                                s.rolname, '{name}', s.setting, stored);
               end if;
             end loop;
           end $copy$"#
    )
}

/// Whether `entry`, a `name=value` entry of `pg_db_role_setting.setconfig`, is a setting
/// testbed makes itself (a clone's `synchronous_commit`, a template's
/// `testbed.last_used`): not copied from a template to its clones, nor read by the
/// schema's fingerprint. SQL.
pub(crate) fn own_setting(entry: &str) -> String {
    format!("({entry} like 'synchronous_commit=%' or {entry} like '{LAST_USED_SETTING}=%')")
}

/// A newline as `\n` and a backslash as `\\`, so that any text fits on one line.
pub(crate) fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Reverses [`escape`].
pub(crate) fn unescape(line: &str) -> String {
    let mut text = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => text.push('\n'),
            Some(other) => text.push(other),
            None => text.push('\\'),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_copied_only_when_the_template_has_some() {
        let plain = mark("testbed_pool_x", POOL_COMMENT, None);
        assert!(plain.contains("synchronous_commit = off"), "{plain}");
        assert!(!plain.contains("pg_db_role_setting"), "{plain}");
        let copying = mark("testbed_pool_x", POOL_COMMENT, Some("testbed_tpl_x"));
        assert!(copying.starts_with(&plain), "{copying}");
        assert!(copying.contains("datname = 'testbed_tpl_x'"), "{copying}");
    }

    #[test]
    fn a_template_without_a_recorded_use_counts_as_long_unused() {
        assert_eq!(last_used(None), UNIX_EPOCH);
        let settings = ["testbed.last_used=1500".to_owned()];
        assert_eq!(
            last_used(Some(&settings)),
            UNIX_EPOCH + Duration::from_millis(1500)
        );
    }
}
