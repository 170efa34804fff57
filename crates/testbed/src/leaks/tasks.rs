//! The async-tasks check: tasks still alive on the test's own tokio runtime once its
//! cleanups are done. Exact in every runner, since each async test has a runtime of its
//! own; the runner counts them (`RuntimeMetrics::num_alive_tasks`), letting the runtime
//! run a little longer first so tasks that are finishing can finish.

use super::policy::Category;
use super::report::Leak;

pub(super) fn leaks(alive: usize) -> Vec<Leak> {
    if alive == 0 {
        return Vec::new();
    }
    let tasks = if alive == 1 { "task" } else { "tasks" };
    let mut leak = Leak::new(
        Category::Tasks,
        format!(
            "{alive} async {tasks} still alive on the test's runtime after its cleanups \
             (spawned and never awaited or aborted)"
        ),
    );
    leak.restored = Some("dropped with the test's runtime".to_owned());
    vec![leak]
}
