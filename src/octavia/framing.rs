//! Length-prefixed frames used on every driver agent socket.
//!
//! Both directions carry `<payload length in ASCII decimal>\n<payload>`.
//! The reader is defensive because the reply comes from another process:
//! it bounds the payload size *before* allocating, accepts only plain
//! decimal digits (no sign, spaces or `\r`), caps the prefix at 20 digits
//! (enough for any `u64`), and reports a peer that hangs up early instead of
//! returning a short payload.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Longest accepted length prefix; `u64::MAX` has 20 digits.
pub const MAX_PREFIX_DIGITS: usize = 20;

/// A frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    #[error("I/O error while reading a frame: {0}")]
    Io(#[from] std::io::Error),
    #[error("connection closed before the length prefix was complete")]
    ClosedInPrefix,
    #[error("empty length prefix")]
    EmptyPrefix,
    #[error("byte 0x{0:02x} in length prefix is not a decimal digit")]
    NonDigit(u8),
    #[error("length prefix is longer than {MAX_PREFIX_DIGITS} digits")]
    PrefixTooLong,
    #[error("declared frame length exceeds the {max} byte limit")]
    TooLarge { max: usize },
    #[error("connection closed after {got} of {expected} payload bytes")]
    ShortRead { expected: usize, got: usize },
}

impl FramingError {
    /// True when the peer hung up or the transport failed part-way (as when
    /// the agent restarts), as opposed to the peer sending malformed data.
    pub fn is_disconnect(&self) -> bool {
        matches!(
            self,
            FramingError::Io(_) | FramingError::ClosedInPrefix | FramingError::ShortRead { .. }
        )
    }
}

/// Writes one frame. The prefix and payload go out as separate writes; the
/// agent reads the prefix byte by byte, so no coalescing is needed.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, payload: &[u8]) -> std::io::Result<()> {
    w.write_all(format!("{}\n", payload.len()).as_bytes())
        .await?;
    w.write_all(payload).await?;
    w.flush().await
}

/// Reads the prefix one byte at a time so nothing past the newline is
/// consumed; it is at most 21 reads per frame.
async fn read_prefix<R: AsyncRead + Unpin>(
    r: &mut R,
    max_len: usize,
) -> Result<usize, FramingError> {
    let mut len: usize = 0;
    let mut digits = 0usize;
    loop {
        let byte = match r.read_u8().await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(FramingError::ClosedInPrefix)
            }
            Err(e) => return Err(FramingError::Io(e)),
        };
        match byte {
            b'\n' if digits == 0 => return Err(FramingError::EmptyPrefix),
            b'\n' => return Ok(len),
            b'0'..=b'9' => {
                digits += 1;
                if digits > MAX_PREFIX_DIGITS {
                    return Err(FramingError::PrefixTooLong);
                }
                len = len
                    .checked_mul(10)
                    .and_then(|l| l.checked_add(usize::from(byte - b'0')))
                    .filter(|l| *l <= max_len)
                    .ok_or(FramingError::TooLarge { max: max_len })?;
            }
            other => return Err(FramingError::NonDigit(other)),
        }
    }
}

/// Reads one frame of at most `max_len` payload bytes.
///
/// Memory grows with the bytes actually received, not with the declared
/// length, so a lying prefix cannot make us allocate `max_len` up front.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max_len: usize,
) -> Result<Vec<u8>, FramingError> {
    let expected = read_prefix(r, max_len).await?;
    let mut payload = Vec::with_capacity(expected.min(64 * 1024));
    let got = (&mut *r)
        .take(expected as u64)
        .read_to_end(&mut payload)
        .await?;
    if got < expected {
        return Err(FramingError::ShortRead { expected, got });
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read_blocking(bytes: &[u8], max: usize) -> Result<Vec<u8>, FramingError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut input = bytes;
        rt.block_on(read_frame(&mut input, max))
    }

    #[tokio::test]
    async fn writes_decimal_prefix() {
        let mut out = Vec::new();
        write_frame(&mut out, b"{\"a\":1}").await.unwrap();
        assert_eq!(out, b"7\n{\"a\":1}");
        let mut empty = Vec::new();
        write_frame(&mut empty, b"").await.unwrap();
        assert_eq!(empty, b"0\n");
    }

    #[test]
    fn reads_exactly_the_declared_payload() {
        assert_eq!(read_blocking(b"2\n{}trailing", 10).unwrap(), b"{}");
        assert_eq!(read_blocking(b"0\n", 10).unwrap(), b"");
        assert_eq!(read_blocking(b"002\n{}", 10).unwrap(), b"{}");
    }

    #[test]
    fn rejects_malformed_input() {
        assert!(matches!(
            read_blocking(b"", 10),
            Err(FramingError::ClosedInPrefix)
        ));
        assert!(matches!(
            read_blocking(b"12", 100),
            Err(FramingError::ClosedInPrefix)
        ));
        assert!(matches!(
            read_blocking(b"\n", 10),
            Err(FramingError::EmptyPrefix)
        ));
        assert!(matches!(
            read_blocking(b"-1\n", 10),
            Err(FramingError::NonDigit(b'-'))
        ));
        assert!(matches!(
            read_blocking(b"2\r\n{}", 10),
            Err(FramingError::NonDigit(b'\r'))
        ));
        assert!(matches!(
            read_blocking(b"OK\n{}", 10),
            Err(FramingError::NonDigit(b'O'))
        ));
        assert!(matches!(
            read_blocking(b"000000000000000000001\nx", usize::MAX),
            Err(FramingError::PrefixTooLong)
        ));
        assert!(matches!(
            read_blocking(b"11\n", 10),
            Err(FramingError::TooLarge { max: 10 })
        ));
        assert!(matches!(
            read_blocking(b"99999999999999999999\n", usize::MAX),
            Err(FramingError::TooLarge { .. })
        ));
        assert!(matches!(
            read_blocking(b"5\nab", 10),
            Err(FramingError::ShortRead {
                expected: 5,
                got: 2
            })
        ));
    }

    #[test]
    fn disconnects_are_distinguished_from_garbage() {
        assert!(FramingError::ClosedInPrefix.is_disconnect());
        assert!(FramingError::ShortRead {
            expected: 2,
            got: 1
        }
        .is_disconnect());
        assert!(!FramingError::NonDigit(b'x').is_disconnect());
        assert!(!FramingError::TooLarge { max: 1 }.is_disconnect());
    }

    proptest! {
        #[test]
        fn write_then_read_round_trips(payload in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let mut wire = Vec::new();
            rt.block_on(write_frame(&mut wire, &payload)).unwrap();
            prop_assert_eq!(read_blocking(&wire, payload.len()).unwrap(), payload.clone());
            // One byte below the payload size must be refused, never truncated.
            if !payload.is_empty() {
                let refused = matches!(
                    read_blocking(&wire, payload.len() - 1),
                    Err(FramingError::TooLarge { .. })
                );
                prop_assert!(refused);
            }
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), max in 0usize..512) {
            if let Ok(payload) = read_blocking(&bytes, max) {
                prop_assert!(payload.len() <= max);
            }
        }

        #[test]
        fn digit_heavy_garbage_never_panics(prefix in "[0-9]{0,30}\n?", rest in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut bytes = prefix.into_bytes();
            bytes.extend(rest);
            if let Ok(payload) = read_blocking(&bytes, usize::MAX) {
                prop_assert!(payload.len() <= bytes.len());
            }
        }
    }
}
