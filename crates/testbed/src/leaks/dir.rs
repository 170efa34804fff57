//! Reading a directory without a heap allocation per entry (the leak checks' cost is
//! mostly this): its entries' names handed to a closure as bytes, from `readdir`, with
//! the listing's own descriptor reported so `/proc/self/fd` can leave it out; and the two
//! `/proc` listings the checks and the ignore rules share (threads, descriptors).

use std::ffi::CStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Calls `each` with every entry's name (`.` and `..` left out); returns the number of
/// the descriptor the listing used.
pub(super) fn entries(path: &Path, mut each: impl FnMut(&[u8])) -> io::Result<i32> {
    let mut bytes = path.as_os_str().as_bytes().to_vec();
    bytes.push(0);
    let path = CStr::from_bytes_with_nul(&bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in the path"))?;
    // SAFETY: `opendir` gets a NUL-terminated path (checked above); the `DIR` it returns
    // is checked for null, used by this thread only, and closed once below, after its
    // last use. `readdir` returns null at the end (or on error) or an entry valid until
    // the next `readdir`/`closedir` on the same `DIR`; its `d_name` is NUL-terminated,
    // and is only borrowed by `each` before the next call.
    unsafe {
        let dir = libc::opendir(path.as_ptr());
        if dir.is_null() {
            return Err(io::Error::last_os_error());
        }
        let own = libc::dirfd(dir);
        loop {
            let entry = libc::readdir(dir);
            if entry.is_null() {
                break;
            }
            let name = CStr::from_ptr((*entry).d_name.as_ptr()).to_bytes();
            if name != b"." && name != b".." {
                each(name);
            }
        }
        libc::closedir(dir);
        Ok(own)
    }
}

/// The ids of the threads running now, sorted (`/proc/self/task`).
pub(super) fn thread_ids() -> io::Result<Vec<u64>> {
    Ok(numbers(Path::new("/proc/self/task"))?.0)
}

/// The open descriptors' numbers, sorted, without the one this listing itself opens
/// (which may take a number a test's descriptor takes later).
pub(super) fn open_fds() -> io::Result<Vec<u32>> {
    let (numbers, own) = numbers(Path::new("/proc/self/fd"))?;
    Ok(numbers
        .into_iter()
        .filter(|fd| *fd != own as u64)
        .map(|fd| fd as u32)
        .collect())
}

/// The entries whose names are numbers (`/proc` listings), sorted, and the listing's
/// own descriptor.
pub(super) fn numbers(path: &Path) -> io::Result<(Vec<u64>, i32)> {
    let mut numbers = Vec::with_capacity(32);
    let own = entries(path, |name| {
        if let Some(number) = std::str::from_utf8(name)
            .ok()
            .and_then(|name| name.parse().ok())
        {
            numbers.push(number);
        }
    })?;
    numbers.sort_unstable();
    Ok((numbers, own))
}
