//! The environment-variables check: variables set, changed or removed by a test without
//! the `EnvVars` fixture (which restores its own before this check looks). Reports name
//! the variables only, never their values; a test's own changes are put back.

use std::ffi::OsString;

use super::ignore::env_ignored;
use super::policy::Category;
use super::report::Leak;

/// Every variable and its value, sorted by name.
pub(super) struct Snapshot(Vec<(OsString, OsString)>);

pub(super) fn snapshot() -> Snapshot {
    let mut vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    vars.sort_unstable();
    Snapshot(vars)
}

/// What differs from `before`, by name.
pub(super) fn leaks(before: &Snapshot) -> Vec<Leak> {
    let now = snapshot();
    let mut leaks = Vec::new();
    let (mut old, mut new) = (before.0.iter().peekable(), now.0.iter().peekable());
    loop {
        let change = match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some((name, _)), None) => {
                let name = name.clone();
                old.next();
                (name, "removed")
            }
            (None, Some((name, _))) => {
                let name = name.clone();
                new.next();
                (name, "set")
            }
            (Some((old_name, old_value)), Some((new_name, new_value))) => {
                if old_name < new_name {
                    let name = old_name.clone();
                    old.next();
                    (name, "removed")
                } else if new_name < old_name {
                    let name = new_name.clone();
                    new.next();
                    (name, "set")
                } else {
                    let changed = old_value != new_value;
                    let name = old_name.clone();
                    old.next();
                    new.next();
                    if !changed {
                        continue;
                    }
                    (name, "changed")
                }
            }
        };
        let (name, how) = change;
        if env_ignored(&name) {
            continue;
        }
        leaks.push(Leak::new(
            Category::Env,
            format!(
                "variable `{}` {how} without `EnvVars`",
                name.to_string_lossy()
            ),
        ));
    }
    leaks
}

/// Puts every variable back as `before` had it.
pub(super) fn restore(before: &Snapshot, leaks: &mut [Leak]) {
    let now = snapshot();
    for (name, _) in &now.0 {
        if env_ignored(name) {
            continue;
        }
        if before.0.binary_search_by(|(old, _)| old.cmp(name)).is_err() {
            write(name, None);
        }
    }
    for (name, value) in &before.0 {
        if env_ignored(name) {
            continue;
        }
        let current = now
            .0
            .binary_search_by(|(new, _)| new.cmp(name))
            .ok()
            .map(|at| &now.0[at].1);
        if current != Some(value) {
            write(name, Some(value));
        }
    }
    for leak in leaks {
        leak.restored = Some("restored".to_owned());
    }
}

fn write(name: &OsString, value: Option<&OsString>) {
    // SAFETY: not fully provable here, so this states what is and is not guaranteed.
    // Only called when the difference was pinned on the test that just ended
    // (`attribution::Attribution::Exact`): no other testbed test runs in this process
    // (nextest's process per test, or one test thread), so no testbed fixture reads or
    // writes the environment meanwhile, and `std::env` readers in other threads are
    // serialised with this write by std's own environment lock. Not guaranteed: that a
    // thread the test left behind does not read the environment without that lock (C
    // code calling `getenv`); the same contract `EnvVars` documents.
    unsafe {
        match value {
            Some(value) => std::env::set_var(name, value),
            None => std::env::remove_var(name),
        }
    }
}
