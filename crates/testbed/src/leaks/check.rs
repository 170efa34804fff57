//! The built-in leak check the runner runs around every test: a snapshot of each
//! category before setup, a difference after every cleanup (taken again with a short
//! backoff while it is not empty), attributed to the test or to suspects, restored
//! where it can be, and reported under the policy.

use super::attribution::{self, Attribution, Window};
use super::policy::{Category, Policy};
use super::report::{self, Leak};
use super::{children, cwd, env, fds, handles, overrides, retry, tasks, temp_files, threads};
use crate::Scope;

/// The snapshots of one test, waiting for its end.
pub(crate) struct Pending {
    test: String,
    policy: Policy,
    window: Window,
    env: Option<env::Snapshot>,
    cwd: Option<cwd::Snapshot>,
    threads: Option<threads::Snapshot>,
    fds: Option<fds::Snapshot>,
    children: Option<children::Snapshot>,
    temp_files: Option<temp_files::Snapshot>,
    overrides: Option<overrides::Snapshot>,
    handles: Option<handles::Watch>,
    tasks: bool,
    /// Threads the runner expects to outlive the test (a timed-out sync worker).
    expected_threads: Vec<u64>,
}

/// Takes the snapshots of every category `allowed` does not name for the test of
/// `scope`; `None` under `TESTBED_LEAKS=off`.
pub(crate) fn before(scope: &Scope, allowed: &[Category]) -> Option<Pending> {
    let test = scope.test_name();
    let policy = Policy::current();
    if policy == Policy::Off {
        return None;
    }
    let checks = |category: Category| !allowed.contains(&category);
    let window = attribution::open(test);
    Some(Pending {
        test: test.to_owned(),
        policy,
        window,
        env: checks(Category::Env).then(env::snapshot),
        cwd: checks(Category::Cwd).then(cwd::snapshot),
        threads: checks(Category::Threads).then(threads::snapshot).flatten(),
        fds: checks(Category::Fds).then(fds::snapshot).flatten(),
        children: checks(Category::Children)
            .then(children::snapshot)
            .flatten(),
        temp_files: checks(Category::TempFiles)
            .then(temp_files::snapshot)
            .flatten(),
        overrides: checks(Category::Overrides).then(|| overrides::snapshot(scope.test_id())),
        handles: checks(Category::Handles).then(|| handles::snapshot(scope)),
        tasks: checks(Category::Tasks),
        expected_threads: Vec::new(),
    })
}

/// What was found in each process-wide category.
#[derive(Default)]
struct Found {
    env: Vec<Leak>,
    cwd: Vec<Leak>,
    threads: Vec<Leak>,
    fds: Vec<Leak>,
    children: Vec<Leak>,
    temp_files: Vec<Leak>,
    /// Overrides made on the test's own thread, and where no test ran.
    overrides: (Vec<overrides::Found>, Vec<overrides::Found>),
    handles: Vec<Leak>,
}

impl Found {
    /// Whether something that can still finish by itself was found.
    fn settling(&self) -> bool {
        !(self.threads.is_empty()
            && self.fds.is_empty()
            && self.children.is_empty()
            && self.temp_files.is_empty()
            && self.handles.is_empty())
    }
}

impl Pending {
    /// Leaves thread `tid` out of the report: the runner knows why it still runs.
    pub(crate) fn expect_thread(&mut self, tid: u64) {
        self.expected_threads.push(tid);
    }

    /// Whether the runner should count the tasks left on the test's runtime.
    pub(crate) fn watches_tasks(&self) -> bool {
        self.tasks
    }

    fn look(&self, found: &mut Found, all: bool) {
        fn again<S>(
            snapshot: &Option<S>,
            leaks: &mut Vec<Leak>,
            all: bool,
            take: fn(&S) -> Vec<Leak>,
        ) {
            if let Some(snapshot) = snapshot {
                if all || !leaks.is_empty() {
                    *leaks = take(snapshot);
                }
            }
        }
        if all {
            again(&self.env, &mut found.env, all, env::leaks);
            again(&self.cwd, &mut found.cwd, all, cwd::leaks);
            if let Some(snapshot) = &self.overrides {
                found.overrides = overrides::leaks(snapshot);
            }
        }
        again(&self.handles, &mut found.handles, all, handles::leaks);
        if let Some(snapshot) = &self.threads {
            if all || !found.threads.is_empty() {
                found.threads = threads::leaks(snapshot, &self.expected_threads);
            }
        }
        again(&self.fds, &mut found.fds, all, fds::leaks);
        again(&self.children, &mut found.children, all, children::leaks);
        again(
            &self.temp_files,
            &mut found.temp_files,
            all,
            temp_files::leaks,
        );
    }

    /// Compares, attributes, restores and reports; `Err` carries the failure message
    /// when the test's own leaks fail it. `tasks_alive` is what the runner counted on
    /// the test's runtime, if it has one.
    pub(crate) fn after(self, tasks_alive: Option<usize>) -> Result<(), String> {
        let mut found = Found::default();
        self.look(&mut found, true);
        if found.settling() {
            for pause in retry::backoff() {
                std::thread::sleep(pause);
                self.look(&mut found, false);
                if !found.settling() {
                    break;
                }
            }
        }
        let Pending {
            test,
            policy,
            window,
            env: env_before,
            cwd: cwd_before,
            ..
        } = self;
        let overlapped = attribution::close(window);
        let attribution = attribution::attribute(overlapped);

        let mut own: Vec<Leak> = Vec::new();
        let mut suspects: Vec<Leak> = Vec::new();
        match &attribution {
            Attribution::Exact => {
                if let Some(before) = &env_before {
                    if !found.env.is_empty() {
                        env::restore(before, &mut found.env);
                    }
                }
                if let Some(before) = &cwd_before {
                    if !found.cwd.is_empty() {
                        cwd::restore(before, &mut found.cwd);
                    }
                }
                children::kill_and_reap(&mut found.children);
                let (mut made_here, mut made_elsewhere) = found.overrides;
                made_here.append(&mut made_elsewhere);
                made_here.sort_by_key(overrides::Found::id);
                overrides::restore(&mut made_here);
                own.extend(found.env);
                own.extend(found.cwd);
                own.extend(found.threads);
                own.extend(found.fds);
                own.extend(found.children);
                own.extend(overrides::into_leaks(made_here));
                // Other processes write to the temporary directory too (nextest's other
                // test processes, a parent test, anything on the machine): an entry there
                // is never proof against this test, only a suspect.
                if !found.temp_files.is_empty() {
                    report::emit(&report::suspected(
                        &test,
                        &found.temp_files,
                        &[],
                        "other processes write to the temporary directory too",
                    ));
                }
            }
            Attribution::Suspects(_) => {
                // Made on the test's own thread: its own, whatever ran beside it.
                let (mut made_here, made_elsewhere) = found.overrides;
                overrides::restore(&mut made_here);
                own.extend(overrides::into_leaks(made_here));
                suspects.extend(overrides::into_leaks(made_elsewhere));
                suspects.extend(found.env);
                suspects.extend(found.cwd);
                suspects.extend(found.threads);
                suspects.extend(found.fds);
                suspects.extend(found.children);
                suspects.extend(found.temp_files);
            }
        }
        own.extend(found.handles);
        own.extend(tasks::leaks(tasks_alive.unwrap_or(0)));

        if let Attribution::Suspects(others) = &attribution {
            if !suspects.is_empty() {
                let why = if others.is_empty() {
                    "tests run side by side in this process, and tests not written with \
                     `#[testbed::test]` cannot be seen (nothing was restored or killed)"
                } else {
                    "other tests ran in this process meanwhile (nothing was restored or \
                     killed: it may be theirs, still in use)"
                };
                report::emit(&report::suspected(&test, &suspects, others, why));
            }
        }
        if own.is_empty() {
            return Ok(());
        }
        match policy {
            Policy::Fail => Err(report::failure(&own)),
            Policy::Warn | Policy::Off => {
                report::emit(&report::warning(&test, &own));
                Ok(())
            }
        }
    }
}
