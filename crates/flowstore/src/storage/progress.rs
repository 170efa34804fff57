//! Task progress, kept in the atom's metadata so it survives a reload.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Storage;
use crate::error::StorageError;

/// Metadata key of the latest progress, a number from 0 to 1.
const PROGRESS: &str = "progress";
/// Metadata key of the [`ProgressDetails`] last reported.
const PROGRESS_DETAILS: &str = "progress_details";

/// The details a task reported with its progress, and the progress they came with.
#[cfg_attr(
    test,
    derive(testbed::versioned::Versioned),
    versioned(version = "1.0")
)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressDetails {
    /// The progress reported with these details.
    pub at_progress: f64,
    /// What the task said.
    pub details: Map<String, Value>,
}

impl Storage {
    /// Records a task's progress (0 to 1). `details` replaces the details kept with the
    /// progress; empty details erase them, and `None` keeps the last ones.
    pub fn set_task_progress(
        &self,
        name: &str,
        progress: f64,
        details: Option<Map<String, Value>>,
    ) -> Result<(), StorageError> {
        let mut update = Map::new();
        update.insert(PROGRESS.to_owned(), Value::from(progress));
        if let Some(details) = details {
            let kept = if details.is_empty() {
                Value::Null
            } else {
                serde_json::to_value(ProgressDetails {
                    at_progress: progress,
                    details,
                })
                .unwrap_or(Value::Null)
            };
            update.insert(PROGRESS_DETAILS.to_owned(), kept);
        }
        self.update_atom_metadata(name, update)
    }

    /// A task's latest progress; 0 before it reported any.
    pub fn get_task_progress(&self, name: &str) -> Result<f64, StorageError> {
        let inner = self.lock();
        let meta = &inner.atom(name)?.meta;
        Ok(meta.get(PROGRESS).and_then(Value::as_f64).unwrap_or(0.0))
    }

    /// The details a task last reported with its progress, if it kept any.
    pub fn get_task_progress_details(
        &self,
        name: &str,
    ) -> Result<Option<ProgressDetails>, StorageError> {
        let inner = self.lock();
        let meta = &inner.atom(name)?.meta;
        Ok(meta
            .get(PROGRESS_DETAILS)
            .and_then(|details| serde_json::from_value(details.clone()).ok()))
    }
}
