//! SQLite's `memdb` VFS through the C API, for what sqlx cannot do: an in-memory database
//! that every connection of this process opening `file:/<name>?vfs=memdb` shares, filled
//! from a template image with SQLite's backup API, and kept alive by a handle of its own
//! for as long as the test needs it (a `memdb` database vanishes with its last
//! connection).
//!
//! `sqlite3_deserialize` cannot do this: it always gives its connection a private
//! database, which is why a deserialized image allows one connection only.

use std::ffi::{CStr, CString, c_int};
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;

/// An open SQLite connection of this module's own, closed on drop.
///
/// Opened in serialized mode (`SQLITE_OPEN_FULLMUTEX`): SQLite takes the connection's
/// mutex in every call, so a handle may be used and dropped on any thread.
pub(crate) struct Handle(NonNull<ffi::sqlite3>);

// SAFETY: every handle is opened with SQLITE_OPEN_FULLMUTEX (see `Handle::open`), under
// which SQLite serializes all calls on the connection with its own mutex; the pointer
// is never handed out, so nothing uses the connection but this module's calls.
unsafe impl Send for Handle {}
// SAFETY: as for `Send`: concurrent calls through `&Handle` are serialized by SQLite.
unsafe impl Sync for Handle {}

impl Handle {
    fn open(uri: &str) -> Result<Handle, String> {
        let uri = CString::new(uri).map_err(|_| "a database name with a NUL byte".to_owned())?;
        let flags = ffi::SQLITE_OPEN_READWRITE
            | ffi::SQLITE_OPEN_CREATE
            | ffi::SQLITE_OPEN_URI
            | ffi::SQLITE_OPEN_FULLMUTEX;
        let mut db: *mut ffi::sqlite3 = ptr::null_mut();
        // SAFETY: `uri` is NUL-terminated and outlives the call, `db` is a valid place for
        // the out pointer, and a null VFS name means the default (the URI names `memdb`).
        let rc = unsafe { ffi::sqlite3_open_v2(uri.as_ptr(), &mut db, flags, ptr::null()) };
        // Even a failed open usually returns a handle, which must be closed.
        let handle = NonNull::new(db).map(Handle);
        match (rc, handle) {
            (ffi::SQLITE_OK, Some(handle)) => Ok(handle),
            (_, Some(handle)) => Err(handle.message()),
            (rc, None) => Err(code_message(rc)),
        }
    }

    /// The connection's last error message.
    fn message(&self) -> String {
        // SAFETY: the handle is open; sqlite3_errmsg returns a NUL-terminated string owned
        // by SQLite, valid until the next call on the connection, and copied right away.
        unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.0.as_ptr())) }
            .to_string_lossy()
            .into_owned()
    }

    /// Runs `sql` (statements without results).
    fn execute(&self, sql: &str) -> Result<(), String> {
        let sql = CString::new(sql).map_err(|_| "a statement with a NUL byte".to_owned())?;
        // SAFETY: the handle is open, `sql` is NUL-terminated, and no callback nor error
        // pointer is passed (the message is read with sqlite3_errmsg instead).
        let rc = unsafe {
            ffi::sqlite3_exec(
                self.0.as_ptr(),
                sql.as_ptr(),
                None,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(self.message())
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle is open and dropped once, and this module leaves no statement
        // or backup of it unfinalized, so sqlite3_close frees it.
        unsafe {
            ffi::sqlite3_close(self.0.as_ptr());
        }
    }
}

fn code_message(rc: c_int) -> String {
    // SAFETY: sqlite3_errstr returns a static NUL-terminated string for any code.
    unsafe { CStr::from_ptr(ffi::sqlite3_errstr(rc)) }
        .to_string_lossy()
        .into_owned()
}

/// A template image opened read-only in memory: the source each test's copy is made from.
pub(crate) struct Source {
    handle: Handle,
    page_size: u32,
}

impl Source {
    /// Opens `image` (a serialized database) as a private read-only in-memory database.
    pub(crate) fn open(image: &[u8]) -> Result<Source, String> {
        let handle = Handle::open(":memory:")?;
        let size = image.len();
        // SAFETY: sqlite3_malloc64 returns memory of `size` bytes or null (checked).
        let buffer = unsafe { ffi::sqlite3_malloc64(size.max(1) as u64) }.cast::<u8>();
        if buffer.is_null() {
            return Err("out of memory".to_owned());
        }
        // SAFETY: `buffer` holds `size` bytes and does not overlap `image`.
        unsafe { ptr::copy_nonoverlapping(image.as_ptr(), buffer, size) };
        // SAFETY: the handle is open; `buffer` comes from sqlite3_malloc64 and holds
        // `size` bytes; with SQLITE_DESERIALIZE_FREEONCLOSE SQLite owns it from here on,
        // even when the call fails, and frees it with the connection.
        let rc = unsafe {
            ffi::sqlite3_deserialize(
                handle.0.as_ptr(),
                c"main".as_ptr(),
                buffer,
                size as i64,
                size as i64,
                ffi::SQLITE_DESERIALIZE_FREEONCLOSE | ffi::SQLITE_DESERIALIZE_READONLY,
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(handle.message());
        }
        // The header's page size: big-endian at offset 16, where 1 stands for 65536.
        let page_size = match image.get(16..18) {
            Some(&[1, 0]) => 65536,
            Some(&[high, low]) => u32::from(u16::from_be_bytes([high, low])),
            _ => 4096,
        };
        Ok(Source { handle, page_size })
    }

    /// A new database shared by every connection to `file:/<name>?vfs=memdb` in this
    /// process, holding a copy of the image; it lives until the returned handle and every
    /// such connection are closed.
    pub(crate) fn copy_to(&self, name: &str) -> Result<Handle, String> {
        let keeper = Handle::open(&format!("file:/{name}?vfs=memdb"))?;
        // The backup API cannot change an in-memory destination's page size.
        if self.page_size != 4096 {
            keeper.execute(&format!("pragma page_size = {}", self.page_size))?;
        }
        // SAFETY: both handles are open serialized connections, the schema names are
        // NUL-terminated, and the source is not the destination.
        let backup = unsafe {
            ffi::sqlite3_backup_init(
                keeper.0.as_ptr(),
                c"main".as_ptr(),
                self.handle.0.as_ptr(),
                c"main".as_ptr(),
            )
        };
        if backup.is_null() {
            return Err(keeper.message());
        }
        // SAFETY: `backup` was just initialized and is finished exactly once, right after.
        let step = unsafe { ffi::sqlite3_backup_step(backup, -1) };
        // SAFETY: as above; `backup` is not used after this.
        let finish = unsafe { ffi::sqlite3_backup_finish(backup) };
        if step != ffi::SQLITE_DONE {
            return Err(code_message(step));
        }
        if finish != ffi::SQLITE_OK {
            return Err(keeper.message());
        }
        Ok(keeper)
    }
}
