//! The relay between a test's connection and its server session: each side's messages
//! passed on as they were read (but a lone `Sync` between requests, whose answer the
//! relay knows), and, when the client says goodbye, whether the session can serve
//! another client (reset with `DISCARD ALL`, after rolling back a transaction the
//! client left open) or must be closed.

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
    // the last one; whether the client began an extended-protocol request it has not
    // yet ended with `Sync`.
    let (mut awaited, mut status, mut unsynced) = (0usize, b'I', false);
    let goodbye = loop {
        match next_of_either(&mut client, &mut server).await {
            Side::Client(batch) => {
                let Ok(Some(batch)) = batch else { break false };
                // sqlx pings every connection on its way back to its pool with a lone
                // `Sync`. Between requests, the server's answer is known: the status
                // of its last `ReadyForQuery`. Answered here, it saves the server a
                // wake-up and a round trip for every query a test makes.
                if awaited == 0 && !unsynced && batch.messages.iter().all(|&(kind, _)| kind == b'S')
                {
                    let answers = wire::ready_for_query(status).repeat(batch.messages.len());
                    if client.stream_mut().write_all(&answers).await.is_err() {
                        break false;
                    }
                    continue;
                }
                // `Terminate` is a client's last message: what came before it goes on.
                let goodbye = batch.messages.iter().find(|(kind, _)| *kind == b'X');
                let end = goodbye.map_or(batch.bytes.len(), |&(_, at)| at);
                for &(kind, _) in batch.messages.iter().filter(|&&(_, at)| at < end) {
                    match kind {
                        b'Q' | b'F' => awaited += 1,
                        b'S' => (awaited, unsynced) = (awaited + 1, false),
                        // Parse, Bind, Describe, Execute, Close, Flush.
                        b'P' | b'B' | b'D' | b'E' | b'C' | b'H' => unsynced = true,
                        _ => {}
                    }
                }
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

    /// A lone `Sync`, as sqlx pings a connection with.
    const SYNC: [u8; 5] = [b'S', 0, 0, 0, 4];

    /// What a relayed session came to: whether it was kept, what the scripted server
    /// saw (queries' text, `SYNC`, or other messages' type), and the statuses of the
    /// `ReadyForQuery` answers the client got.
    struct Relayed {
        kept: bool,
        seen: Vec<String>,
        statuses: String,
    }

    /// Relays a client that sends `script`'s steps in turn and then says goodbye. A
    /// step is a query, `SYNC` (a lone `Sync`) or `PARSE` (a `Parse` and a `Flush`). The
    /// scripted server answers each query and `Sync` with `ReadyForQuery` in the status
    /// `script` gives it (`I` for any other), and a `Parse` with `ParseComplete`, as a
    /// real one does; the client waits for each answer.
    async fn session_after(script: &[(&'static str, u8)]) -> Relayed {
        let (proxy_client, test_client) = UnixStream::pair().unwrap();
        let (proxy_server, fake_server) = UnixStream::pair().unwrap();
        let (script, answers) = (script.to_vec(), script.to_vec());
        let server = tokio::spawn(async move {
            let mut server = Reader::new(fake_server);
            let mut seen = Vec::new();
            while let Ok(Some(message)) = server.next().await {
                let said = match message.kind {
                    b'Q' => String::from_utf8_lossy(message.body())
                        .trim_end_matches('\0')
                        .to_owned(),
                    b'S' => "SYNC".to_owned(),
                    kind => (kind as char).to_string(),
                };
                let status = answers
                    .iter()
                    .find(|(query, _)| *query == said)
                    .map_or(b'I', |(_, status)| *status);
                seen.push(said);
                let answer = match message.kind {
                    b'Q' | b'S' => wire::ready_for_query(status),
                    b'P' => vec![b'1', 0, 0, 0, 4], // `ParseComplete`
                    _ => continue,
                };
                server.stream_mut().write_all(&answer).await.unwrap();
            }
            seen
        });
        let client = tokio::spawn(async move {
            let mut client = Reader::new(test_client);
            let mut statuses = String::new();
            for (step, _) in script.iter().filter(|(step, _)| *step != "ROLLBACK") {
                let message = match *step {
                    "SYNC" => SYNC.to_vec(),
                    // `Parse` of `;` as the unnamed statement, no parameter types.
                    "PARSE" => vec![b'P', 0, 0, 0, 9, 0, b';', 0, 0, 0, b'H', 0, 0, 0, 4],
                    query => wire::query(query),
                };
                client.stream_mut().write_all(&message).await.unwrap();
                let awaited = if *step == "PARSE" { b'1' } else { b'Z' };
                let answer = loop {
                    let message = client.next().await.unwrap().unwrap();
                    if message.kind == awaited {
                        break message;
                    }
                };
                if answer.kind == b'Z' {
                    statuses.push(answer.body()[0] as char);
                }
            }
            client
                .stream_mut()
                .write_all(&[b'X', 0, 0, 0, 4])
                .await
                .unwrap();
            statuses
        });
        let mut stream = ServerStream::Unix(proxy_server);
        let kept = reusable_after(Reader::new(proxy_client), &mut stream).await;
        let statuses = client.await.unwrap();
        drop(stream);
        Relayed {
            kept,
            seen: server.await.unwrap(),
            statuses,
        }
    }

    #[tokio::test]
    async fn a_lone_sync_between_requests_is_answered_without_the_server() {
        let relayed = session_after(&[("BEGIN", b'T'), ("SYNC", b'?'), ("ROLLBACK", b'I')]).await;
        assert!(relayed.kept);
        assert_eq!(relayed.seen, ["BEGIN", "ROLLBACK", "DISCARD ALL"]);
        // The answer carries the session's status: in a transaction.
        assert_eq!(relayed.statuses, "TT");
    }

    #[tokio::test]
    async fn a_sync_ending_an_extended_request_goes_to_the_server() {
        let relayed = session_after(&[("PARSE", b'?'), ("SYNC", b'I'), ("SYNC", b'I')]).await;
        assert!(relayed.kept);
        // The first `Sync` ends the `Parse`; the second, between requests, stays here.
        assert_eq!(relayed.seen, ["P", "H", "SYNC", "DISCARD ALL"]);
        assert_eq!(relayed.statuses, "II");
    }

    #[tokio::test]
    async fn a_session_said_goodbye_to_is_discarded_and_kept() {
        let relayed = session_after(&[("SELECT 1", b'I')]).await;
        assert!(relayed.kept);
        assert_eq!(relayed.seen, ["SELECT 1", "DISCARD ALL"]);
    }

    #[tokio::test]
    async fn a_transaction_left_open_is_rolled_back_before_the_session_is_kept() {
        let relayed = session_after(&[("BEGIN", b'T'), ("ROLLBACK", b'I')]).await;
        assert!(relayed.kept);
        assert_eq!(relayed.seen, ["BEGIN", "ROLLBACK", "DISCARD ALL"]);
        // A failed transaction the same.
        let relayed = session_after(&[("BEGIN; SELECT 1/0", b'E')]).await;
        assert!(relayed.kept);
        assert_eq!(
            relayed.seen,
            ["BEGIN; SELECT 1/0", "ROLLBACK", "DISCARD ALL"]
        );
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
