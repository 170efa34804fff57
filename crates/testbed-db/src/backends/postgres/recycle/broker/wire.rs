//! The few pieces of PostgreSQL's wire protocol the broker's proxy speaks: reading
//! whole messages off a stream, a client's startup packet, and the messages the proxy
//! writes itself (a greeting from a kept session, a refusal).
//!
//! After the startup packet every message is a type byte and a big-endian length that
//! counts itself but not the type byte; the proxy reads messages whole so that it
//! always knows where a session stands (see `proxy`), and passes them on unchanged.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The startup packet's protocol number for version 3.0.
const PROTOCOL_3: u32 = 196_608;
/// The request to switch to TLS, which the proxy declines (its socket is local).
const SSL_REQUEST: u32 = 80_877_103;
/// The request to switch to GSS encryption, declined too.
const GSSENC_REQUEST: u32 = 80_877_104;
/// A message longer than this is taken for a broken stream.
const LONGEST_MESSAGE: usize = 1 << 30;

/// One message: its type byte and its whole bytes as they were read (type, length,
/// body), ready to be passed on.
pub(super) struct Message {
    pub(super) kind: u8,
    pub(super) bytes: Vec<u8>,
}

impl Message {
    /// The body, after the type byte and the length.
    pub(super) fn body(&self) -> &[u8] {
        &self.bytes[5..]
    }
}

/// Whole messages read in one go, back to back, to be passed on with one write: one
/// write wakes the other side once, where a write per message would wake it for each.
pub(super) struct Batch {
    /// Their bytes, as they were read.
    pub(super) bytes: Vec<u8>,
    /// Each message's type byte and where it starts in `bytes`.
    pub(super) messages: Vec<(u8, usize)>,
}

/// The length field of the message starting at `at` in `buffer`, if its header is there.
fn length_at(buffer: &[u8], at: usize) -> io::Result<Option<usize>> {
    let Some(header) = buffer.get(at + 1..at + 5) else {
        return Ok(None);
    };
    let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if !(4..=LONGEST_MESSAGE).contains(&length) {
        return Err(invalid("a message length out of range"));
    }
    Ok(Some(length))
}

/// Reads whole messages from a stream. Cancel-safe: a read interrupted by a `select!`
/// keeps what it got in the buffer, so no message is ever cut in two.
pub(super) struct Reader<R> {
    stream: R,
    buffer: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    pub(super) fn new(stream: R) -> Self {
        Self {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Whether bytes of a next message were read already.
    pub(super) fn has_buffered(&self) -> bool {
        !self.buffer.is_empty()
    }

    /// The next message; `None` when the stream ended between messages.
    pub(super) async fn next(&mut self) -> io::Result<Option<Message>> {
        loop {
            if let Some(length) = length_at(&self.buffer, 0)?
                && self.buffer.len() > length
            {
                let rest = self.buffer.split_off(length + 1);
                let bytes = std::mem::replace(&mut self.buffer, rest);
                return Ok(Some(Message {
                    kind: bytes[0],
                    bytes,
                }));
            }
            if !self.fill().await? {
                return self.ended();
            }
        }
    }

    /// Every whole message read so far, reading until there is at least one; `None`
    /// when the stream ended between messages.
    pub(super) async fn batch(&mut self) -> io::Result<Option<Batch>> {
        loop {
            let (mut messages, mut end) = (Vec::new(), 0);
            while let Some(length) = length_at(&self.buffer, end)? {
                if self.buffer.len() <= end + length {
                    break;
                }
                messages.push((self.buffer[end], end));
                end += length + 1;
            }
            if !messages.is_empty() {
                let rest = self.buffer.split_off(end);
                let bytes = std::mem::replace(&mut self.buffer, rest);
                return Ok(Some(Batch { bytes, messages }));
            }
            if !self.fill().await? {
                return self.ended();
            }
        }
    }

    /// Reads more into the buffer; `false` at the stream's end.
    async fn fill(&mut self) -> io::Result<bool> {
        self.buffer.reserve(8192);
        Ok(self.stream.read_buf(&mut self.buffer).await? > 0)
    }

    /// At the stream's end: `None` between messages, an error inside one.
    fn ended<T>(&self) -> io::Result<Option<T>> {
        if self.buffer.is_empty() {
            Ok(None)
        } else {
            Err(io::ErrorKind::UnexpectedEof.into())
        }
    }

    /// A packet with no type byte (the startup packet and the requests before it):
    /// its whole bytes.
    pub(super) async fn untyped(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if self.buffer.len() >= 4 {
                let length = u32::from_be_bytes([
                    self.buffer[0],
                    self.buffer[1],
                    self.buffer[2],
                    self.buffer[3],
                ]) as usize;
                if !(8..=10_000).contains(&length) {
                    return Err(invalid("a startup packet length out of range"));
                }
                if self.buffer.len() >= length {
                    let rest = self.buffer.split_off(length);
                    return Ok(std::mem::replace(&mut self.buffer, rest));
                }
            }
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// The stream, to write to.
    pub(super) fn stream_mut(&mut self) -> &mut R {
        &mut self.stream
    }
}

/// What a client sent first.
pub(super) enum Opening {
    /// A request to encrypt the connection, to be declined with `N`.
    Encryption,
    /// The startup packet, with its parameters in order.
    Startup(Vec<(String, String)>),
}

/// Reads a client's first packet.
pub(super) fn opening(packet: &[u8]) -> io::Result<Opening> {
    let code = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
    match code {
        SSL_REQUEST | GSSENC_REQUEST => Ok(Opening::Encryption),
        PROTOCOL_3 => {
            let mut parameters = Vec::new();
            let mut fields = packet[8..].split(|&b| b == 0);
            while let Some(key) = fields.next().filter(|key| !key.is_empty()) {
                let value = fields
                    .next()
                    .ok_or_else(|| invalid("a parameter's value"))?;
                parameters.push((
                    String::from_utf8_lossy(key).into_owned(),
                    String::from_utf8_lossy(value).into_owned(),
                ));
            }
            Ok(Opening::Startup(parameters))
        }
        _ => Err(invalid("an unknown startup request")),
    }
}

/// `AuthenticationOk`.
pub(super) fn authentication_ok() -> Vec<u8> {
    vec![b'R', 0, 0, 0, 8, 0, 0, 0, 0]
}

/// `ReadyForQuery` with transaction status `status` (`I` idle, `T` in a transaction,
/// `E` in a failed one).
pub(super) fn ready_for_query(status: u8) -> Vec<u8> {
    vec![b'Z', 0, 0, 0, 5, status]
}

/// A simple query, `sql`.
pub(super) fn query(sql: &str) -> Vec<u8> {
    let mut bytes = vec![b'Q'];
    bytes.extend_from_slice(&((sql.len() + 5) as u32).to_be_bytes());
    bytes.extend_from_slice(sql.as_bytes());
    bytes.push(0);
    bytes
}

/// A fatal `ErrorResponse` with SQLSTATE `code` and `message`.
pub(super) fn fatal(code: &str, message: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', code),
        (b'M', message),
    ] {
        body.push(field);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut bytes = vec![b'E'];
    bytes.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

/// The code of an `Authentication*` message: 0 when authenticated.
pub(super) fn authentication_code(message: &Message) -> Option<u32> {
    let body = message.body();
    (message.kind == b'R' && body.len() >= 4)
        .then(|| u32::from_be_bytes([body[0], body[1], body[2], body[3]]))
}

/// The server process id of a `BackendKeyData` message.
pub(super) fn backend_pid(message: &Message) -> Option<i32> {
    let body = message.body();
    (message.kind == b'K' && body.len() >= 8)
        .then(|| i32::from_be_bytes([body[0], body[1], body[2], body[3]]))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("unexpected: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_messages_whole_across_reads() {
        let mut bytes = query("select 1");
        bytes.extend(ready_for_query(b'I'));
        // Delivered one byte at a time, the messages still come out whole.
        let (mut tx, rx) = tokio::io::duplex(1);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for byte in bytes {
                tx.write_all(&[byte]).await.unwrap();
            }
        });
        let mut reader = Reader::new(rx);
        let first = reader.next().await.unwrap().unwrap();
        assert_eq!((first.kind, first.body()), (b'Q', &b"select 1\0"[..]));
        let second = reader.next().await.unwrap().unwrap();
        assert_eq!((second.kind, second.body()), (b'Z', &b"I"[..]));
        writer.await.unwrap();
        assert!(reader.next().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_batch_holds_every_whole_message_read_and_keeps_a_partial_one() {
        let mut bytes = query("select 1");
        bytes.extend(ready_for_query(b'I'));
        let whole = bytes.len();
        let next = query("select 2");
        bytes.extend(&next[..3]);
        let (mut tx, rx) = tokio::io::duplex(1024);
        use tokio::io::AsyncWriteExt;
        tx.write_all(&bytes).await.unwrap();
        let mut reader = Reader::new(rx);
        let batch = reader.batch().await.unwrap().unwrap();
        assert_eq!(batch.bytes, bytes[..whole]);
        assert_eq!(batch.messages, [(b'Q', 0), (b'Z', 14)]);
        // The partial message completes on a later read, whole.
        tx.write_all(&next[3..]).await.unwrap();
        drop(tx);
        let batch = reader.batch().await.unwrap().unwrap();
        assert_eq!((batch.bytes, batch.messages), (next, vec![(b'Q', 0)]));
        assert!(reader.batch().await.unwrap().is_none());
    }

    #[test]
    fn parses_a_startup_packet() {
        let mut packet = vec![0, 0, 0, 0];
        packet.extend(PROTOCOL_3.to_be_bytes());
        packet.extend(b"user\0postgres\0database\0testbed_pool_1\0\0");
        let length = packet.len() as u32;
        packet[..4].copy_from_slice(&length.to_be_bytes());
        let Opening::Startup(parameters) = opening(&packet).unwrap() else {
            panic!("not read as a startup packet");
        };
        assert_eq!(
            parameters,
            [
                ("user".to_owned(), "postgres".to_owned()),
                ("database".to_owned(), "testbed_pool_1".to_owned())
            ]
        );
    }

    #[test]
    fn a_refusal_is_a_well_formed_error() {
        let bytes = fatal("08004", "no");
        let length = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        assert_eq!(length + 1, bytes.len());
        assert_eq!(bytes.last(), Some(&0));
    }
}
