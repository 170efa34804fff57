//! The broker's side of its connections to the real server: where the server listens,
//! and a server session's stream, which can tell whether the server closed it while it
//! sat kept.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

/// Where the real server listens.
#[derive(Clone, Debug)]
pub(super) enum Upstream {
    Tcp(String, u16),
    Unix(PathBuf),
}

impl Upstream {
    /// The server that `options` connect to.
    pub(super) fn of(options: &sqlx::postgres::PgConnectOptions) -> Self {
        let port = options.get_port();
        match options.get_socket() {
            Some(dir) => Self::Unix(dir.join(format!(".s.PGSQL.{port}"))),
            None if options.get_host().starts_with('/') => {
                Self::Unix(Path::new(options.get_host()).join(format!(".s.PGSQL.{port}")))
            }
            None => Self::Tcp(options.get_host().to_owned(), port),
        }
    }

    pub(super) async fn connect(&self) -> io::Result<ServerStream> {
        Ok(match self {
            Self::Tcp(host, port) => {
                let stream = TcpStream::connect((host.as_str(), *port)).await?;
                stream.set_nodelay(true)?;
                ServerStream::Tcp(stream)
            }
            Self::Unix(path) => ServerStream::Unix(UnixStream::connect(path).await?),
        })
    }
}

/// A connection to the server.
pub(super) enum ServerStream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl ServerStream {
    /// Whether the server closed the session or sent something while it sat kept (it
    /// was terminated, say): such a session is not given out. Asked of the socket
    /// itself (a peek, on a socket that does not block), not of the runtime, which
    /// learns of an end only once it polls.
    pub(super) fn is_quiet(&self) -> bool {
        let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
        let peeked = match self {
            Self::Tcp(stream) => socket2::SockRef::from(stream).peek(&mut byte),
            Self::Unix(stream) => socket2::SockRef::from(stream).peek(&mut byte),
        };
        matches!(peeked, Err(ref e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    pub(super) fn split(
        &mut self,
    ) -> (
        Box<dyn AsyncRead + Unpin + Send + '_>,
        Box<dyn AsyncWrite + Unpin + Send + '_>,
    ) {
        match self {
            Self::Tcp(stream) => {
                let (read, write) = stream.split();
                (Box::new(read), Box::new(write))
            }
            Self::Unix(stream) => {
                let (read, write) = stream.split();
                (Box::new(read), Box::new(write))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_session_the_server_closed_is_not_given_out() {
        let (stream, other_end) = std::os::unix::net::UnixStream::pair().unwrap();
        stream.set_nonblocking(true).unwrap();
        let quiet = ServerStream::Unix(UnixStream::from_std(stream).unwrap());
        assert!(quiet.is_quiet());
        drop(other_end);
        assert!(!quiet.is_quiet(), "the other end closed: not quiet");
    }
}
