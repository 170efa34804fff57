//! The current-directory check: a test that moved the process elsewhere without the
//! `CurrentDir` fixture (which goes back before this check looks). Its own change is
//! undone.

use std::path::PathBuf;

use super::policy::Category;
use super::report::Leak;

/// The current directory, if it could be read.
pub(super) struct Snapshot(Option<PathBuf>);

pub(super) fn snapshot() -> Snapshot {
    Snapshot(std::env::current_dir().ok())
}

pub(super) fn leaks(before: &Snapshot) -> Vec<Leak> {
    let Some(was) = &before.0 else {
        return Vec::new();
    };
    match std::env::current_dir() {
        Ok(now) if &now == was => Vec::new(),
        Ok(now) => vec![Leak::new(
            Category::Cwd,
            format!(
                "current directory changed to `{}` without `CurrentDir` (was `{}`)",
                now.display(),
                was.display()
            ),
        )],
        Err(error) => vec![Leak::new(
            Category::Cwd,
            format!(
                "current directory can no longer be read ({error}; was `{}`)",
                was.display()
            ),
        )],
    }
}

pub(super) fn restore(before: &Snapshot, leaks: &mut [Leak]) {
    let Some(was) = &before.0 else {
        return;
    };
    let done = match std::env::set_current_dir(was) {
        Ok(()) => format!("restored to `{}`", was.display()),
        Err(error) => format!("could not go back to `{}`: {error}", was.display()),
    };
    for leak in leaks {
        leak.restored = Some(done.clone());
    }
}
