//! The child-processes check: children of this process that were not there before the
//! test, still running or exited and never waited for (zombies), with their command
//! line. Read from each thread's `/proc/self/task/<tid>/children` (skipped when a
//! `waitid` says there is no child at all); a test's own are killed and reaped once
//! reported.

use std::io::{self, Read};

use super::policy::Category;
use super::report::{Leak, cannot_run};

/// The child process ids before the test, sorted.
pub(super) struct Snapshot(Vec<i32>);

/// Whether this process has any child, running or exited and not waited for: one
/// `waitid` call, which spares the `/proc` reads in the common case of none.
fn has_children() -> bool {
    // SAFETY: `waitid` writes only into `info`, a zeroed local `siginfo_t` valid for the
    // call. `WNOWAIT` leaves any exited child unreaped (its owner still waits for it),
    // and `WNOHANG` returns at once. It fails with `ECHILD` exactly when the process
    // has no child at all.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let result = libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        !(result == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD))
    }
}

fn list() -> io::Result<Vec<i32>> {
    if !has_children() {
        return Ok(Vec::new());
    }
    let tids = super::dir::thread_ids()?;
    let mut pids = Vec::new();
    let mut text = String::new();
    for tid in tids {
        text.clear();
        let path = format!("/proc/self/task/{tid}/children");
        match std::fs::File::open(&path).and_then(|mut file| file.read_to_string(&mut text)) {
            Ok(_) => pids.extend(
                text.split_whitespace()
                    .filter_map(|pid| pid.parse::<i32>().ok()),
            ),
            // The thread ended since the listing.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                if std::path::Path::new(&format!("/proc/self/task/{tid}")).exists() {
                    return Err(error);
                }
            }
            Err(error) => return Err(error),
        }
    }
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

pub(super) fn snapshot() -> Option<Snapshot> {
    match list() {
        Ok(pids) => Some(Snapshot(pids)),
        Err(error) => {
            cannot_run(
                Category::Children,
                &format!("`/proc/self/task/<tid>/children`: {error}"),
            );
            None
        }
    }
}

pub(super) fn leaks(before: &Snapshot) -> Vec<Leak> {
    let Ok(now) = list() else {
        return Vec::new();
    };
    now.into_iter()
        .filter(|pid| before.0.binary_search(pid).is_err())
        .map(|pid| {
            let mut leak = Leak::new(Category::Children, describe(pid));
            leak.pid = Some(pid);
            leak
        })
        .collect()
}

fn describe(pid: i32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // `pid (comm) state ...`: the name may hold spaces and parentheses.
    let (name, state) = match (stat.find('('), stat.rfind(')')) {
        (Some(open), Some(close)) if open < close => (
            &stat[open + 1..close],
            stat[close + 1..].split_whitespace().next().unwrap_or("?"),
        ),
        _ => ("?", "?"),
    };
    let command: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|byte| *byte == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    let command = if command.is_empty() {
        name.to_owned()
    } else {
        command.join(" ")
    };
    if state == "Z" {
        format!("child process {pid} `{command}` exited but was never waited for (a zombie)")
    } else {
        format!("child process {pid} `{command}` still running")
    }
}

/// Kills and reaps each leaked child, noting it on the leak.
pub(super) fn kill_and_reap(leaks: &mut [Leak]) {
    for leak in leaks {
        let Some(pid) = leak.pid else { continue };
        // SAFETY: `kill` and `waitpid` take plain integers and a pointer to a local
        // `c_int`, valid for the call: nothing here can break memory safety. Which
        // process they reach: `pid` is listed in our `children` files and was never
        // waited for, and a child's id cannot be reused before its parent (this process)
        // reaps it. Only a thread the test left behind could reap it between that
        // listing and these calls; then the id might be reused by a new process within
        // those microseconds, a window this accepts (`waitpid` then reports an error).
        let (killed, reaped) = unsafe {
            let killed = libc::kill(pid, libc::SIGKILL) == 0;
            let mut status: libc::c_int = 0;
            let reaped = libc::waitpid(pid, &mut status, 0) == pid;
            (killed, reaped)
        };
        leak.restored = Some(match (killed, reaped) {
            (true, true) => "killed and reaped".to_owned(),
            (false, true) => "reaped".to_owned(),
            (_, false) => format!("could not be reaped: {}", io::Error::last_os_error()),
        });
    }
}
