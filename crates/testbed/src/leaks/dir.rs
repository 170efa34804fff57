//! Reading a directory without a heap allocation per entry (the leak checks' cost is
//! mostly this): its entries' names handed to a closure as bytes, from `readdir`, with
//! the listing's own descriptor reported so `/proc/self/fd` can leave it out; and the two
//! `/proc` listings the checks and the ignore rules share (threads, descriptors), each
//! from a directory kept open between listings.

use std::ffi::CStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Mutex;

use crate::core::lock;

/// Calls `each` with every entry's name (`.` and `..` left out); returns the number of
/// the descriptor the listing used.
pub(super) fn entries(path: &Path, mut each: impl FnMut(&[u8])) -> io::Result<i32> {
    let mut bytes = path.as_os_str().as_bytes().to_vec();
    bytes.push(0);
    let path = CStr::from_bytes_with_nul(&bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in the path"))?;
    // SAFETY: `opendir` gets a NUL-terminated path (checked above); the `DIR` it returns
    // is checked for null, used by this thread only, and closed once below, after its
    // last use.
    unsafe {
        let dir = libc::opendir(path.as_ptr());
        if dir.is_null() {
            return Err(io::Error::last_os_error());
        }
        let own = libc::dirfd(dir);
        read(dir, &mut each);
        libc::closedir(dir);
        Ok(own)
    }
}

/// Calls `each` with the name of every entry `dir` has left to read (`.` and `..` left
/// out).
///
/// # Safety
///
/// `dir` must be an open `DIR` that no other thread uses meanwhile.
unsafe fn read(dir: *mut libc::DIR, each: &mut impl FnMut(&[u8])) {
    loop {
        // SAFETY: `dir` is open and ours (the caller's promise). `readdir` returns null
        // at the end (or on error) or an entry valid until the next call on `dir`; its
        // `d_name` is NUL-terminated, and only borrowed by `each` before that call.
        unsafe {
            let entry = libc::readdir(dir);
            if entry.is_null() {
                break;
            }
            let name = CStr::from_ptr((*entry).d_name.as_ptr()).to_bytes();
            if name != b"." && name != b".." {
                each(name);
            }
        }
    }
}

/// `/proc/self/task`, kept open.
static TASKS: Mutex<Option<KeptDir>> = Mutex::new(None);

/// `/proc/self/fd`, kept open.
static FDS: Mutex<Option<KeptDir>> = Mutex::new(None);

/// The ids of the threads running now, sorted (`/proc/self/task`).
pub(super) fn thread_ids() -> io::Result<Vec<u64>> {
    Ok(kept_numbers(&TASKS, c"/proc/self/task")?.0)
}

/// The open descriptors' numbers, sorted, without the one the listing itself keeps open.
pub(super) fn open_fds() -> io::Result<Vec<u32>> {
    let (numbers, own) = kept_numbers(&FDS, c"/proc/self/fd")?;
    Ok(numbers
        .into_iter()
        .filter(|fd| *fd != own as u64)
        .map(|fd| fd as u32)
        .collect())
}

/// A `/proc` directory kept open between listings: opening it again walks its path, the
/// larger part of a listing's cost, while `rewinddir` has procfs list it afresh.
struct KeptDir {
    /// The process that opened it: a forked child's inherited copy lists the parent.
    pid: u32,
    dir: *mut libc::DIR,
}

// SAFETY: the `DIR` is only ever used through the `Mutex` holding its `KeptDir`, so by
// one thread at a time; nothing in it is tied to the thread that opened it.
unsafe impl Send for KeptDir {}

/// The entries of the `/proc` directory at `path` whose names are numbers, sorted, and
/// the descriptor the listing keeps open.
fn kept_numbers(slot: &Mutex<Option<KeptDir>>, path: &CStr) -> io::Result<(Vec<u64>, i32)> {
    let mut slot = lock(slot);
    let pid = std::process::id();
    let mut numbers = Vec::with_capacity(32);
    for _attempt in 0..2 {
        if slot.as_ref().is_none_or(|kept| kept.pid != pid) {
            if let Some(stale) = slot.take() {
                // SAFETY: `stale.dir` came from `opendir` and is closed once, here.
                unsafe { libc::closedir(stale.dir) };
            }
            // SAFETY: `path` is NUL-terminated; the result is checked for null.
            let dir = unsafe { libc::opendir(path.as_ptr()) };
            if dir.is_null() {
                return Err(io::Error::last_os_error());
            }
            *slot = Some(KeptDir { pid, dir });
        }
        let kept = slot.as_ref().expect("opened above");
        numbers.clear();
        // SAFETY: `kept.dir` is an open `DIR` (from `opendir`, not closed while in the
        // slot), used by this thread alone under the lock.
        unsafe {
            libc::rewinddir(kept.dir);
            read(kept.dir, &mut |name| {
                if let Some(number) = std::str::from_utf8(name)
                    .ok()
                    .and_then(|name| name.parse().ok())
                {
                    numbers.push(number);
                }
            });
        }
        // Never empty when healthy (the listing thread, the listing's own descriptor): an
        // empty one means a test closed the kept descriptor. Open it again and retry.
        if !numbers.is_empty() {
            numbers.sort_unstable();
            // SAFETY: `kept.dir` is an open `DIR`.
            let own = unsafe { libc::dirfd(kept.dir) };
            return Ok((numbers, own));
        }
        // Not `closedir`: its descriptor's number may be another file's by now, which
        // closing would take from its owner. The `DIR`'s memory stays allocated.
        slot.take();
    }
    Err(io::Error::other(format!(
        "`{}` lists nothing",
        path.to_string_lossy()
    )))
}

/// The id of the calling thread, as `/proc/self/task` lists it (`None` without `/proc`).
pub(crate) fn current_thread_id() -> Option<u64> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// The descriptors open now that were not in `before` (sorted), each with its target.
pub(super) fn fds_opened_since(before: &[u32]) -> Vec<(u32, std::path::PathBuf)> {
    let Ok(now) = open_fds() else {
        return Vec::new();
    };
    now.into_iter()
        .filter(|fd| before.binary_search(fd).is_err())
        .filter_map(|fd| Some((fd, std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_directory_closed_behind_its_back_is_opened_again() {
        let before = open_fds().unwrap();
        assert!(!before.is_empty());
        // SAFETY: the kept `DIR` is open while it is in the slot, read under its lock.
        let own = lock(&FDS)
            .as_ref()
            .map(|kept| unsafe { libc::dirfd(kept.dir) });
        let own = own.expect("the listing keeps its directory open");
        assert!(
            !before.contains(&(own as u32)),
            "its own descriptor is left out"
        );
        // SAFETY: closes the listing's own descriptor, as a test closing every
        // descriptor would; nothing else uses that number until it is reused.
        unsafe { libc::close(own) };
        let after = open_fds().unwrap();
        assert!(!after.is_empty(), "listed again from a new descriptor");
        assert!(!thread_ids().unwrap().is_empty());
    }
}
