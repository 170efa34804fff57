//! The file-descriptors check: descriptors open after the test that were not before it
//! (Linux: `/proc/self/fd`), each with what it points at: a file's path, a socket's
//! addresses (looked up in `/proc/net` only once a leak is found), a pipe.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use super::ignore::{fd_ignored, path_ignored, peer_ignored};
use super::policy::Category;
use super::report::{Leak, cannot_run};

/// The descriptor numbers open before the test, sorted.
pub(super) struct Snapshot(Vec<u32>);

use super::dir::open_fds as list;

pub(super) fn snapshot() -> Option<Snapshot> {
    match list() {
        Ok(fds) => Some(Snapshot(fds)),
        Err(error) => {
            cannot_run(Category::Fds, &format!("`/proc/self/fd`: {error}"));
            None
        }
    }
}

pub(super) fn leaks(before: &Snapshot) -> Vec<Leak> {
    let Ok(now) = list() else {
        return Vec::new();
    };
    now.into_iter()
        .filter(|fd| before.0.binary_search(fd).is_err())
        .filter_map(|fd| {
            // Closed since the listing.
            let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
            if path_ignored(&target) || fd_ignored(fd, &target) {
                return None;
            }
            // A connection to a declared server (a pool kept for the run): its peer
            // asked of the kernel, without reading `/proc/net`'s tables, which cost
            // milliseconds each on a machine with many connections.
            if target.to_string_lossy().starts_with("socket:")
                && peer_of(fd).is_some_and(|peer| peer_ignored(&peer))
            {
                return None;
            }
            let (what, peer) = describe(&target);
            if peer.is_some_and(|peer| peer_ignored(&peer)) {
                return None;
            }
            Some(Leak::new(
                Category::Fds,
                format!("descriptor {fd} still open: {what}"),
            ))
        })
        .collect()
}

/// What a descriptor points at, and the peer a connected socket talks to.
fn describe(target: &Path) -> (String, Option<SocketAddr>) {
    let text = target.to_string_lossy();
    if let Some(inode) = bracketed(&text, "socket:") {
        return match socket(inode) {
            Some((what, peer)) => (format!("socket {what} (inode {inode})"), peer),
            None => (format!("socket `{text}`"), None),
        };
    }
    if text.starts_with("pipe:") {
        return (format!("pipe `{text}`"), None);
    }
    if text.starts_with("anon_inode:") {
        return (format!("`{text}`"), None);
    }
    (format!("file `{}`", target.display()), None)
}

fn bracketed<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.strip_prefix(prefix)?
        .strip_prefix('[')?
        .strip_suffix(']')
}

/// A socket's kind and addresses, found by inode in `/proc/net`, and its peer when it
/// is a connected IP socket.
fn socket(inode: &str) -> Option<(String, Option<SocketAddr>)> {
    for (file, kind) in [
        ("tcp", "tcp"),
        ("tcp6", "tcp6"),
        ("udp", "udp"),
        ("udp6", "udp6"),
    ] {
        let Some(table) = read_table(&format!("/proc/self/net/{file}")) else {
            continue;
        };
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(9) == Some(&inode) {
                let local = address(fields.get(1)?)?;
                let remote = address(fields.get(2)?)?;
                let listening = fields.get(3) == Some(&"0A") && kind.starts_with("tcp");
                return Some(if listening {
                    (format!("{kind} listening on {local}"), None)
                } else {
                    (format!("{kind} {local} -> {remote}"), Some(remote))
                });
            }
        }
    }
    let unix = read_table("/proc/self/net/unix")?;
    for line in unix.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(6) == Some(&inode) {
            return Some(match fields.get(7) {
                Some(path) => (format!("unix `{path}`"), None),
                None => ("unix (unnamed)".to_owned(), None),
            });
        }
    }
    None
}

/// The peer of connected IP socket `fd`; `None` for another kind of socket or
/// descriptor, or one not connected.
fn peer_of(fd: u32) -> Option<SocketAddr> {
    let fd = i32::try_from(fd).ok()?;
    // SAFETY: `sockaddr_storage` is plain integers, for which all zeros is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut length =
        libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_storage>()).ok()?;
    // SAFETY: `storage` is writable and `length` is its size, so the kernel writes at most
    // that many bytes into it and nothing else; `getpeername` changes nothing about the
    // descriptor. If `fd` was closed since the listing the call fails; if its number was
    // reused, the peer is another socket's: at worst that descriptor is left out of the
    // report, as a closed one would be.
    let result = unsafe {
        libc::getpeername(
            fd,
            (&raw mut storage).cast::<libc::sockaddr>(),
            &raw mut length,
        )
    };
    if result != 0 {
        return None;
    }
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote an `AF_INET` address, a `sockaddr_in`, which fits in
            // and is no more aligned than `sockaddr_storage`.
            let v4 = unsafe { &*(&raw const storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(v4.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::new(ip.into(), u16::from_be(v4.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for an `AF_INET6` address and `sockaddr_in6`.
            let v6 = unsafe { &*(&raw const storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            // An IPv4 peer on an IPv6 socket: compare it as the IPv4 address it is.
            let ip = ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4);
            Some(SocketAddr::new(ip, u16::from_be(v6.sin6_port)))
        }
        _ => None,
    }
}

/// A `/proc/net` table, read in large pieces: the kernel writes it afresh for each
/// read, so the small first reads of `read_to_string` (the file says its size is 0)
/// would cost milliseconds on a machine with many connections.
fn read_table(path: &str) -> Option<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut table = Vec::new();
    let mut piece = vec![0u8; 1 << 17];
    loop {
        match file.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => table.extend_from_slice(&piece[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    String::from_utf8(table).ok()
}

/// `0100007F:1F90` (IPv4, little-endian words) or its 32-digit IPv6 form.
fn address(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    // Each 8-digit word is the address's bytes as the kernel's host-order integer.
    let words: Vec<u32> = (0..ip.len() / 8)
        .map(|at| u32::from_str_radix(&ip[at * 8..at * 8 + 8], 16))
        .collect::<Result<_, _>>()
        .ok()?;
    let bytes: Vec<u8> = words.iter().flat_map(|word| word.to_ne_bytes()).collect();
    let ip: IpAddr = match bytes.len() {
        4 => Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).into(),
        16 => {
            let octets: [u8; 16] = bytes.try_into().ok()?;
            let v6 = Ipv6Addr::from(octets);
            // An IPv4 peer on an IPv6 socket: compare it as the IPv4 address it is.
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kernel_socket_addresses() {
        let text = |field| address(field).map(|address| address.to_string());
        assert_eq!(text("0100007F:1F90").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(
            text("00000000000000000000000001000000:0050").as_deref(),
            Some("[::1]:80")
        );
    }

    #[test]
    fn asks_the_kernel_for_a_connection_peer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(server).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&client);
        assert_eq!(peer_of(u32::try_from(fd).unwrap()), Some(server));
        // Not connected: a listener has no peer, and neither has a file.
        let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
        assert_eq!(peer_of(u32::try_from(fd).unwrap()), None);
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        assert_eq!(peer_of(u32::try_from(fd).unwrap()), None);
    }

    #[test]
    fn names_a_listening_socket_by_its_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
        let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        let (text, _) = describe(&target);
        assert!(
            text.contains(&format!("tcp listening on 127.0.0.1:{port}")),
            "{text}"
        );
    }
}
