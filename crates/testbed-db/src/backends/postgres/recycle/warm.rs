//! The in-process fast path: reset databases this process still holds, with their
//! connections open, for its next test of the same template.
//!
//! Under `cargo test` many tests share a process, and the next test of a template takes
//! the database the last one left, reset and with its connections open, on its own
//! thread. Under `cargo nextest run` there is no next test in the process: the
//! database goes back to the shared pool when the process exits, already reset and
//! recorded clean in the ledger, and nothing here is needed. The connections kept are
//! capped per process (see `kept`): past the cap, the least recently used idle pools
//! are closed and their databases let go.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::super::kept;
use super::super::server::PgServer;
use super::super::template::Template;
use super::ledger;
use super::session::Claimed;
use crate::engine;

/// The reset databases of one template this process holds.
pub(crate) struct Warm {
    pub(crate) server: Arc<PgServer>,
    pub(crate) template: Arc<Template>,
    free: Mutex<Vec<Claimed>>,
}

impl Warm {
    fn free(&self) -> MutexGuard<'_, Vec<Claimed>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `claimed` (reset, recorded clean) for the next test, then closes the least
    /// recently used idle pools of the process past [`kept::max_kept`] connections.
    pub(crate) fn push(&self, mut claimed: Claimed) {
        claimed.idle_since = kept::tick();
        self.free().push(claimed);
        limit_kept();
    }
}

/// The warm pool of each template this process uses.
static WARM_POOLS: Mutex<Option<HashMap<String, Arc<Warm>>>> = Mutex::new(None);

/// Closes the least recently used idle pools while this process keeps more than
/// [`kept::max_kept`] connections in idle pools. Their databases are reset and recorded
/// clean already: they are let go to the shared pool, where the next claimer takes them
/// as they are. A pool a test uses is never in a free list, so never closed here.
fn limit_kept() {
    let cap = kept::max_kept();
    let mut evicted = Vec::new();
    {
        // The map first, then every free list: only this function holds several free
        // locks at once, and it holds the map's lock while it does.
        let pools = WARM_POOLS.lock().unwrap_or_else(|e| e.into_inner());
        let Some(pools) = pools.as_ref() else { return };
        let mut lists: Vec<_> = pools.values().map(|warm| (warm, warm.free())).collect();
        let mut total: usize = lists
            .iter()
            .flat_map(|(_, free)| free.iter())
            .map(Claimed::connections)
            .sum();
        while total > cap {
            let oldest = lists
                .iter()
                .enumerate()
                .flat_map(|(list, (_, free))| {
                    free.iter()
                        .enumerate()
                        .map(move |(at, claimed)| (claimed.idle_since, list, at))
                })
                .min();
            let Some((_, list, at)) = oldest else { break };
            let (warm, free) = &mut lists[list];
            let claimed = free.remove(at);
            total -= claimed.connections();
            evicted.push((warm.server.clone(), claimed));
        }
    }
    for (server, claimed) in evicted {
        engine::handle().spawn(let_go(server, claimed));
    }
}

/// Lets a reset database of a warm pool go, recorded clean (a holder may have kept it
/// recorded in use: see `ledger`).
async fn let_go(server: Arc<PgServer>, claimed: Claimed) {
    // Closed before the claim goes: the next claimer finds no session of ours but idle
    // ones that are leaving.
    claimed.close().await;
    ledger::let_go(&server, &claimed.name).await;
}

/// Lets every database of every warm pool go, recorded clean: the broker's last act
/// before it exits, so the next run's claimers take them as they are.
pub(crate) async fn let_go_all() {
    let held: Vec<(Arc<PgServer>, Claimed)> = {
        let pools = WARM_POOLS.lock().unwrap_or_else(|e| e.into_inner());
        let Some(pools) = pools.as_ref() else { return };
        pools
            .values()
            .flat_map(|warm| {
                let server = warm.server.clone();
                warm.free()
                    .drain(..)
                    .map(move |claimed| (server.clone(), claimed))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    for (server, claimed) in held {
        let_go(server, claimed).await;
    }
}

/// The warm pool of `template`.
pub(crate) fn warm_for(server: &Arc<PgServer>, template: &Arc<Template>) -> Arc<Warm> {
    let mut pools = WARM_POOLS.lock().unwrap_or_else(|e| e.into_inner());
    let pools = pools.get_or_insert_default();
    match pools.get(&template.name) {
        // A rebuilt template (pruned meanwhile), or a server probed again after it was
        // lost, starts a new pool.
        Some(warm)
            if Arc::ptr_eq(&warm.template, template) && Arc::ptr_eq(&warm.server, server) =>
        {
            warm.clone()
        }
        _ => {
            let warm = Arc::new(Warm {
                server: server.clone(),
                template: template.clone(),
                free: Mutex::new(Vec::new()),
            });
            pools.insert(template.name.clone(), warm.clone());
            warm
        }
    }
}

/// The warm pool of each schema hash this process has used.
type Hot = HashMap<String, Arc<Warm>>;

fn hot() -> MutexGuard<'static, Option<Hot>> {
    static HOT: Mutex<Option<Hot>> = Mutex::new(None);
    HOT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remembers `warm` as the pool of schema `hash`, for [`take_here`].
pub(crate) fn remember(hash: &str, warm: &Arc<Warm>) {
    hot()
        .get_or_insert_default()
        .insert(hash.to_owned(), warm.clone());
}

/// Whether this process holds no reset database of schema `hash` (the broker is asked
/// only then: one held here is cheaper still).
pub(crate) fn is_empty_here(hash: &str) -> bool {
    let Some(warm) = hot().as_ref().and_then(|hot| hot.get(hash).cloned()) else {
        return true;
    };
    warm.free().is_empty()
}

/// A reset database of schema `hash` that this process holds, taken on the test's own
/// thread: no trip to the engine.
///
/// None once the server they were claimed on is lost: they are let go (their claims
/// died with the lost lease) and the test goes the long way, through a new probe.
pub(crate) fn take_here(hash: &str) -> Option<(Arc<Warm>, Claimed)> {
    let warm = hot().as_ref()?.get(hash)?.clone();
    if warm.server.is_lost() {
        hot().as_mut()?.remove(hash);
        for claimed in warm.free().drain(..) {
            ledger::forget(&claimed.name);
            engine::handle().spawn(async move { claimed.close().await });
        }
        return None;
    }
    let claimed = warm.free().pop()?;
    Some((warm, claimed))
}
