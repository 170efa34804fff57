//! What testbed holds on SQLite (templates, copies, kept copies) and removing what is
//! stale: old templates nobody uses (through their `Persistent` directory's sweep),
//! copies whose owner process is gone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::Backend;
use crate::held::{Held, HeldKind, PruneOptions};
use crate::owner::{self, NAME_PREFIX};

use super::files::{KEPT_PREFIX, copy_dir, is_locked, remove_copy};
use super::template::{template_file, templates};

/// Removes the stale templates no process uses (testbed's `Persistent` sweep, under
/// the templates' retention); returns what was removed.
pub(crate) fn sweep_templates() -> Vec<Held> {
    let persistent = templates();
    let root = persistent.root();
    persistent
        .sweep()
        .into_iter()
        .map(|key| template_held(&template_file(&root.join(key))))
        .collect()
}

fn template_held(path: &Path) -> Held {
    Held {
        backend: Backend::Sqlite,
        name: path.display().to_string(),
        kind: HeldKind::Template,
        owner: None,
    }
}

/// Templates and per-test copies on disk: the copies' owners are alive while they hold
/// their owner lock.
pub(crate) fn status() -> Vec<Held> {
    let mut held = complete_templates();
    held.extend(copies(&copy_dir(), false));
    held.extend(kept());
    held
}

/// Failing tests' databases kept by `TESTBED_KEEP_FAILED`.
pub(super) fn kept() -> Vec<Held> {
    let Ok(entries) = std::fs::read_dir(copy_dir()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.starts_with(KEPT_PREFIX) && name.ends_with(".sqlite")
        })
        .map(|entry| Held {
            backend: Backend::Sqlite,
            name: entry.path().display().to_string(),
            kind: HeldKind::Kept,
            owner: None,
        })
        .collect()
}

/// Removes the copies of dead owners (and templates, on request).
pub(crate) fn prune(options: PruneOptions) -> Vec<Held> {
    let mut removed = copies(&copy_dir(), true);
    if options.kept {
        for kept in kept() {
            if std::fs::remove_file(&kept.name).is_ok() {
                removed.push(kept);
            }
        }
    }
    if options.templates {
        for entry in templates().entries() {
            if templates().remove_unused(&entry.key) {
                removed.push(template_held(&template_file(&entry.path)));
            }
        }
    } else {
        removed.extend(sweep_templates());
    }
    removed
}

/// The complete templates on disk.
fn complete_templates() -> Vec<Held> {
    templates()
        .entries()
        .into_iter()
        .filter(|entry| entry.complete)
        .map(|entry| template_held(&template_file(&entry.path)))
        .collect()
}

/// The copies in `dir`; with `remove_orphans`, removes those of dead owners and returns
/// only them. Copies of running processes are never touched: their lock is held.
pub(super) fn copies(dir: &Path, remove_orphans: bool) -> Vec<Held> {
    let mut held = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return held;
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut alive: HashMap<String, bool> = HashMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if let Some(token) = file_name
            .strip_prefix("owner_")
            .and_then(|rest| rest.strip_suffix(".lock"))
        {
            let is_alive = token == owner::token() || is_locked(&path);
            if !is_alive && remove_orphans {
                let _ = std::fs::remove_file(&path);
            }
            alive.insert(token.to_owned(), is_alive);
        } else if file_name.starts_with(NAME_PREFIX) {
            paths.push(path);
        }
    }
    for path in paths {
        let stem = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('.').next())
            .unwrap_or_default();
        let Some(token) = owner::owner_of(stem) else {
            continue;
        };
        let kind = if alive.get(token).copied().unwrap_or(false) {
            HeldKind::InUse
        } else {
            HeldKind::Orphaned
        };
        let entry = Held {
            backend: Backend::Sqlite,
            name: path.display().to_string(),
            kind,
            owner: Some(token.to_owned()),
        };
        if !remove_orphans || (kind == HeldKind::Orphaned && remove_copy(&path).is_ok()) {
            held.push(entry);
        }
    }
    held
}
