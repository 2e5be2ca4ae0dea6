//! Strict reader/writer for the driver agent's length-prefixed frames.
//!
//! The simulator deliberately is *stricter* than octavia-driver-agent (which
//! calls Python's `int()` on the prefix): a client that only works against a
//! lenient agent is a client with a latent bug, and catching that in tests is
//! the simulator's whole point. This is an independent implementation from
//! the coordinator's client framing so that a shared bug cannot hide itself.

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

/// A `u64` never needs more than 20 decimal digits; anything longer is junk.
const MAX_PREFIX_DIGITS: usize = 20;

/// Why an incoming request was refused before it reached the handlers.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("connection closed before a complete length prefix")]
    ClosedInPrefix,
    #[error("empty length prefix")]
    EmptyPrefix,
    #[error("non-digit byte 0x{0:02x} in length prefix")]
    NonDigit(u8),
    #[error("length prefix longer than {MAX_PREFIX_DIGITS} digits")]
    PrefixTooLong,
    #[error("declared length exceeds the {max} byte limit")]
    TooLarge { max: usize },
    #[error("payload truncated: declared {expected} bytes, received {got}")]
    Truncated { expected: usize, got: usize },
    #[error("bytes follow the declared payload (length mismatch)")]
    TrailingBytes,
    #[error("payload is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
}

/// Reads the ASCII decimal length line, one byte at a time so that nothing
/// beyond the newline is consumed.
async fn read_prefix<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> Result<usize, WireError> {
    let mut len: usize = 0;
    let mut digits = 0usize;
    loop {
        let mut byte = [0u8; 1];
        if r.read(&mut byte).await? == 0 {
            return Err(WireError::ClosedInPrefix);
        }
        match byte[0] {
            b'\n' if digits == 0 => return Err(WireError::EmptyPrefix),
            b'\n' => return Ok(len),
            d @ b'0'..=b'9' => {
                digits += 1;
                if digits > MAX_PREFIX_DIGITS {
                    return Err(WireError::PrefixTooLong);
                }
                len = len
                    .checked_mul(10)
                    .and_then(|l| l.checked_add(usize::from(d - b'0')))
                    .filter(|l| *l <= max)
                    .ok_or(WireError::TooLarge { max })?;
            }
            other => return Err(WireError::NonDigit(other)),
        }
    }
}

/// Reads one request frame and parses it as JSON.
///
/// After the payload it checks, without blocking, whether the peer already
/// sent more bytes: octavia-lib never half-closes, so EOF cannot be used to
/// detect an under-declared length, but bytes already queued can.
pub(crate) async fn read_request(stream: &mut UnixStream, max: usize) -> Result<Value, WireError> {
    let len = read_prefix(stream, max).await?;
    let mut payload = Vec::with_capacity(len.min(64 * 1024));
    let got = (&mut *stream)
        .take(len as u64)
        .read_to_end(&mut payload)
        .await?;
    if got < len {
        return Err(WireError::Truncated { expected: len, got });
    }
    let mut probe = [0u8; 1];
    match stream.try_read(&mut probe) {
        Ok(n) if n > 0 => return Err(WireError::TrailingBytes),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(WireError::Io(e)),
    }
    Ok(serde_json::from_slice(&payload)?)
}

/// Writes `value` as one well-formed frame.
pub(crate) async fn write_reply<W: AsyncWrite + Unpin>(
    w: &mut W,
    value: &Value,
) -> std::io::Result<()> {
    let body = serde_json::to_vec(value)?;
    write_raw(w, format!("{}\n", body.len()).as_bytes()).await?;
    write_raw(w, &body).await
}

/// Writes bytes verbatim; used for well-formed frames and for `Mode::Garbage`.
pub(crate) async fn write_raw<W: AsyncWrite + Unpin>(
    w: &mut W,
    bytes: &[u8],
) -> std::io::Result<()> {
    w.write_all(bytes).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<Value, WireError> {
        let (mut a, mut b) = UnixStream::pair()?;
        b.write_all(bytes).await?;
        drop(b);
        read_request(&mut a, 1024).await
    }

    #[tokio::test]
    async fn accepts_well_formed_frame() {
        let v = parse(b"11\n{\"a\":[1,2]}").await.unwrap();
        assert_eq!(v, serde_json::json!({"a": [1, 2]}));
    }

    #[tokio::test]
    async fn rejects_malformed_frames() {
        assert!(matches!(parse(b"").await, Err(WireError::ClosedInPrefix)));
        assert!(matches!(parse(b"\n{}").await, Err(WireError::EmptyPrefix)));
        assert!(matches!(
            parse(b" 2\n{}").await,
            Err(WireError::NonDigit(b' '))
        ));
        assert!(matches!(
            parse(b"+2\n{}").await,
            Err(WireError::NonDigit(b'+'))
        ));
        assert!(matches!(
            parse(b"2\r\n{}").await,
            Err(WireError::NonDigit(b'\r'))
        ));
        assert!(matches!(
            parse(b"000000000000000000002\n{}").await,
            Err(WireError::PrefixTooLong)
        ));
        assert!(matches!(
            parse(b"1025\n").await,
            Err(WireError::TooLarge { .. })
        ));
        assert!(matches!(
            parse(b"99999999999999999999\n").await,
            Err(WireError::TooLarge { .. })
        ));
        assert!(matches!(
            parse(b"10\n{}").await,
            Err(WireError::Truncated {
                expected: 10,
                got: 2
            })
        ));
        assert!(matches!(
            parse(b"2\n{}{}").await,
            Err(WireError::TrailingBytes)
        ));
        assert!(matches!(parse(b"2\n{x").await, Err(WireError::NotJson(_))));
    }

    #[tokio::test]
    async fn reply_is_length_prefixed_json() {
        let mut out = Vec::new();
        write_reply(&mut out, &serde_json::json!({"status_code": 200}))
            .await
            .unwrap();
        assert_eq!(out, b"19\n{\"status_code\":200}");
    }
}
