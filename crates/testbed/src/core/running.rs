//! Which test the runner is running on this thread: set around a test's setup, body and
//! cleanups, so that what the test changes from its own thread (a `Global` override
//! made through a scope of its own making, say) can be pinned on it exactly, however
//! many tests run side by side in the process.

use std::cell::Cell;
use std::marker::PhantomData;

use super::scope::Scope;

thread_local! {
    static RUNNING: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Marks this thread as running the test of `scope` until the guard drops.
pub(crate) fn enter(scope: &Scope) -> Running {
    let previous = RUNNING.with(|running| running.replace(Some(scope.test_id())));
    Running {
        previous,
        _not_send: PhantomData,
    }
}

/// The id of the test running on this thread, if the runner runs one here.
pub(crate) fn current() -> Option<u64> {
    RUNNING.with(Cell::get)
}

/// Puts back the thread's previous mark; not `Send`, so it drops where it was made.
pub(crate) struct Running {
    previous: Option<u64>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with(|running| running.set(self.previous));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_nest_and_unwind() {
        let (outer, inner) = (Scope::new("outer"), Scope::new("inner"));
        assert_eq!(current(), None);
        let outer_mark = enter(&outer);
        {
            let _inner_mark = enter(&inner);
            assert_eq!(current(), Some(inner.test_id()));
        }
        assert_eq!(current(), Some(outer.test_id()));
        drop(outer_mark);
        assert_eq!(current(), None);
        assert_ne!(outer.test_id(), inner.test_id());
        assert_eq!(outer.child().test_id(), outer.test_id());
    }
}
