//! The relay between a test's connection and its server session: each side's messages
//! passed on as they were read, and, when the client says goodbye, whether the session
//! can serve another client (reset with `DISCARD ALL`, after rolling back a transaction
//! the client left open) or must be closed.

use std::io;

use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::UnixStream;

use super::upstream::ServerStream;
use super::wire::{self, Batch, Message, Reader};

/// The relay itself: whether the session ended reusable and was reset. What either
/// side sent is passed on as it was read, whole messages in one write.
pub(super) async fn reusable_after(
    mut client: Reader<UnixStream>,
    stream: &mut ServerStream,
) -> bool {
    let (server_read, mut server_write) = stream.split();
    let mut server = Reader::new(server_read);
    // Requests that each end in one `ReadyForQuery`, not yet answered; the status of
    // the last one.
    let (mut awaited, mut status) = (0usize, b'I');
    let goodbye = loop {
        match next_of_either(&mut client, &mut server).await {
            Side::Client(batch) => {
                let Ok(Some(batch)) = batch else { break false };
                // `Terminate` is a client's last message: what came before it goes on.
                let goodbye = batch.messages.iter().find(|(kind, _)| *kind == b'X');
                let end = goodbye.map_or(batch.bytes.len(), |&(_, at)| at);
                awaited += batch
                    .messages
                    .iter()
                    .filter(|(kind, at)| *at < end && matches!(kind, b'Q' | b'S' | b'F'))
                    .count();
                if end > 0 && server_write.write_all(&batch.bytes[..end]).await.is_err() {
                    break false;
                }
                if goodbye.is_some() {
                    break true;
                }
            }
            Side::Server(batch) => {
                let Ok(Some(batch)) = batch else { return false };
                for &(kind, at) in &batch.messages {
                    if kind == b'Z' {
                        awaited = awaited.saturating_sub(1);
                        status = batch.bytes.get(at + 5).copied().unwrap_or(b'?');
                    }
                }
                if client.stream_mut().write_all(&batch.bytes).await.is_err() {
                    break false;
                }
            }
        }
    };
    if !goodbye || awaited != 0 || server.has_buffered() {
        return false;
    }
    // A transaction left open (or failed) is rolled back; `DISCARD ALL` is refused
    // inside one, so each is a query of its own, sent together.
    let queries: &[&str] = if status == b'I' {
        &["DISCARD ALL"]
    } else {
        &["ROLLBACK", "DISCARD ALL"]
    };
    let reset: Vec<u8> = queries.iter().flat_map(|sql| wire::query(sql)).collect();
    if server_write.write_all(&reset).await.is_err() {
        return false;
    }
    let (mut answers, mut failed) = (queries.len(), false);
    loop {
        let message: Message = match server.next().await {
            Ok(Some(message)) => message,
            _ => return false,
        };
        match message.kind {
            b'E' => failed = true,
            b'Z' => {
                answers -= 1;
                if answers == 0 {
                    return !failed && message.body() == b"I";
                }
            }
            _ => {}
        }
    }
}

/// Messages from one side of the relay.
enum Side {
    Client(io::Result<Option<Batch>>),
    Server(io::Result<Option<Batch>>),
}

/// The next messages from whichever side sends first (the client's first when both
/// have some). The other read is dropped unfinished, which loses nothing: a [`Reader`]
/// keeps what it read in its buffer.
async fn next_of_either(
    client: &mut Reader<UnixStream>,
    server: &mut Reader<impl AsyncRead + Unpin>,
) -> Side {
    use std::future::Future;
    use std::task::Poll;
    let mut from_client = std::pin::pin!(client.batch());
    let mut from_server = std::pin::pin!(server.batch());
    std::future::poll_fn(|cx| {
        if let Poll::Ready(message) = from_client.as_mut().poll(cx) {
            return Poll::Ready(Side::Client(message));
        }
        from_server.as_mut().poll(cx).map(Side::Server)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ReadyForQuery` with transaction status `status`.
    fn ready(status: u8) -> Vec<u8> {
        vec![b'Z', 0, 0, 0, 5, status]
    }

    /// Relays a client that sends `client_sends` (each answered by the scripted server
    /// with `ReadyForQuery` in the status its script gives) and then says goodbye;
    /// returns whether the session was kept and the queries the server saw.
    async fn session_after(script: &[(&'static str, u8)]) -> (bool, Vec<String>) {
        let (proxy_client, test_client) = UnixStream::pair().unwrap();
        let (proxy_server, fake_server) = UnixStream::pair().unwrap();
        let (script, answers) = (script.to_vec(), script.to_vec());
        let server = tokio::spawn(async move {
            let mut server = Reader::new(fake_server);
            let mut seen = Vec::new();
            while let Ok(Some(message)) = server.next().await {
                let sql = String::from_utf8_lossy(message.body());
                let sql = sql.trim_end_matches('\0').to_owned();
                let status = answers
                    .iter()
                    .find(|(query, _)| *query == sql)
                    .map_or(b'I', |(_, status)| *status);
                seen.push(sql);
                server.stream_mut().write_all(&ready(status)).await.unwrap();
            }
            seen
        });
        let client = tokio::spawn(async move {
            let mut client = Reader::new(test_client);
            for (query, _) in script.iter().filter(|(query, _)| *query != "ROLLBACK") {
                client
                    .stream_mut()
                    .write_all(&wire::query(query))
                    .await
                    .unwrap();
                while client.next().await.unwrap().unwrap().kind != b'Z' {}
            }
            client
                .stream_mut()
                .write_all(&[b'X', 0, 0, 0, 4])
                .await
                .unwrap();
        });
        let mut stream = ServerStream::Unix(proxy_server);
        let kept = reusable_after(Reader::new(proxy_client), &mut stream).await;
        client.await.unwrap();
        drop(stream);
        (kept, server.await.unwrap())
    }

    #[tokio::test]
    async fn a_session_said_goodbye_to_is_discarded_and_kept() {
        let (kept, seen) = session_after(&[("SELECT 1", b'I')]).await;
        assert!(kept);
        assert_eq!(seen, ["SELECT 1", "DISCARD ALL"]);
    }

    #[tokio::test]
    async fn a_transaction_left_open_is_rolled_back_before_the_session_is_kept() {
        let (kept, seen) = session_after(&[("BEGIN", b'T'), ("ROLLBACK", b'I')]).await;
        assert!(kept);
        assert_eq!(seen, ["BEGIN", "ROLLBACK", "DISCARD ALL"]);
        // A failed transaction the same.
        let (kept, seen) = session_after(&[("BEGIN; SELECT 1/0", b'E')]).await;
        assert!(kept);
        assert_eq!(seen, ["BEGIN; SELECT 1/0", "ROLLBACK", "DISCARD ALL"]);
    }

    #[tokio::test]
    async fn a_session_left_mid_query_is_not_kept() {
        let (proxy_client, mut test_client) = UnixStream::pair().unwrap();
        let (proxy_server, _fake_server) = UnixStream::pair().unwrap();
        // A query and the goodbye at once: its answer never came.
        let mut said = wire::query("SELECT pg_sleep(1)");
        said.extend([b'X', 0, 0, 0, 4]);
        test_client.write_all(&said).await.unwrap();
        let mut stream = ServerStream::Unix(proxy_server);
        assert!(!reusable_after(Reader::new(proxy_client), &mut stream).await);
    }
}
