//! What testbed holds on SQLite (templates, copies, kept copies) and removing what is
//! stale: old templates nobody uses, copies whose owner process is gone.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::Backend;
use crate::held::{Held, HeldKind, PruneOptions};
use crate::owner::{self, NAME_PREFIX};

use super::files::{KEPT_PREFIX, copy_dir, is_locked, remove_copy, template_dir, use_file};

/// Removes stale templates from `dir`; returns what was removed.
///
/// Stale: a template file (`testbed_tpl_<hash>.sqlite`) other than `current` (the one
/// being ensured), whose use file no live process holds, and that was last used (its
/// modification time) more than [`MAX_TEMPLATE_AGE`](crate::admin::MAX_TEMPLATE_AGE)
/// ago or is not among the [`KEEP_TEMPLATES`](crate::admin::KEEP_TEMPLATES) most
/// recently used (`current` counting as one). Nothing else in `dir` is touched.
pub(super) fn sweep_stale(dir: &Path, current: Option<&Path>) -> Vec<Held> {
    let others: Vec<(std::time::SystemTime, String)> = templates_in(dir)
        .into_iter()
        .filter(|held| Some(Path::new(&held.name)) != current)
        .map(|held| {
            let used = std::fs::metadata(&held.name)
                .and_then(|meta| meta.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (used, held.name)
        })
        .collect();
    let stale = crate::retention::stale_of(others, current.is_some(), std::time::SystemTime::now());
    let mut removed = Vec::new();
    for name in stale {
        let path = PathBuf::from(&name);
        if remove_unused_template(&path) {
            removed.push(Held {
                backend: Backend::Sqlite,
                name,
                kind: HeldKind::Template,
                owner: None,
            });
        }
    }
    remove_lone_locks(dir);
    removed
}

/// Removes the lock files of templates that do not exist (a build that failed, a
/// template removed by hand) once no process holds them, so they do not pile up.
pub(super) fn remove_lone_locks(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_lock = name.ends_with(".use") || name.ends_with(".lock");
        if !name.starts_with(crate::owner::TEMPLATE_PREFIX) || !is_lock {
            continue;
        }
        let lock_path = entry.path();
        if lock_path.with_extension("sqlite").exists() {
            continue;
        }
        if let Ok(file) = File::open(&lock_path)
            && file.try_lock().is_ok()
        {
            let _ = std::fs::remove_file(&lock_path);
        }
    }
}

/// Removes template `path` unless a process uses or builds it.
pub(super) fn remove_unused_template(path: &Path) -> bool {
    let use_path = use_file(path);
    let user = match File::open(&use_path) {
        Ok(file) => Some(file),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(_) => return false,
    };
    if user.as_ref().is_some_and(|file| file.try_lock().is_err()) {
        return false;
    }
    let removed = std::fs::remove_file(path).is_ok();
    let lock_path = path.with_extension("lock");
    if let Ok(builder) = File::open(&lock_path)
        && builder.try_lock().is_ok()
    {
        let _ = std::fs::remove_file(&lock_path);
    }
    // Removed while locked: a process waiting for it sees it gone and makes a new one.
    if user.is_some() {
        let _ = std::fs::remove_file(&use_path);
    }
    removed
}

/// Templates and per-test copies on disk: the copies' owners are alive while they hold
/// their owner lock.
pub(crate) fn status() -> Vec<Held> {
    let mut held = templates();
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
        for template in templates() {
            if remove_unused_template(Path::new(&template.name)) {
                removed.push(template);
            }
        }
    } else {
        removed.extend(sweep_stale(&template_dir(), None));
    }
    removed
}

/// Removes the stale templates (see [`sweep_stale`]), and nothing else.
pub(crate) fn sweep_templates() -> Vec<Held> {
    sweep_stale(&template_dir(), None)
}

pub(super) fn templates() -> Vec<Held> {
    templates_in(&template_dir())
}

pub(super) fn templates_in(dir: &Path) -> Vec<Held> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.starts_with(crate::owner::TEMPLATE_PREFIX) && name.ends_with(".sqlite")
        })
        .map(|entry| Held {
            backend: Backend::Sqlite,
            name: entry.path().display().to_string(),
            kind: HeldKind::Template,
            owner: None,
        })
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
