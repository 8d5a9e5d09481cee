//! HTTP/1 framing: where a message head ends, and what `Content-Length`
//! says. The one head reader of the project: the network guard's proxy
//! reads request and answer heads with it, and so do the test tools (the
//! fixture farm, the integration tests' loopback server). Parsing the head
//! itself is each reader's own business (the guard is as lenient as
//! Chromium, the farm strict).

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest head read (start line and header fields), in bytes.
pub const MAX_HEAD: usize = 64 * 1024;

/// Read from `stream` into `buf` until `buf` holds a whole head (up to and
/// with its blank line, `\r\n\r\n` or a bare `\n\n`).
///
/// Returns `Some(head length)`, or `None` when the stream ended first or
/// the head would pass [`MAX_HEAD`] (`buf` then holds what was read, so a
/// caller can tell the two apart). Bytes after the head stay in `buf`.
///
/// # Errors
///
/// The I/O error of a read.
pub async fn read_head<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<Option<usize>> {
    let mut scanned = 0;
    loop {
        if let Some(end) = head_end(buf, scanned) {
            return Ok(Some(end));
        }
        if buf.len() >= MAX_HEAD {
            return Ok(None);
        }
        scanned = buf.len().saturating_sub(3);
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Where the head in `buf` ends (just past `\r\n\r\n` or `\n\n`), looking
/// from `from` on.
#[must_use]
pub fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// Why the `Content-Length` fields of a head give no length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthError {
    /// A value (or an item of a comma list) that is not a decimal number.
    Malformed,
    /// Two values that differ (RFC 9110 §8.6).
    Conflicting,
}

/// The body length the `Content-Length` field `values` of one head say
/// (`None` when there is none). Repeated fields and comma lists are one
/// length when every item is the same number.
///
/// # Errors
///
/// [`LengthError`] for a malformed value or two that differ.
pub fn content_length<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Option<u64>, LengthError> {
    let mut length: Option<u64> = None;
    for value in values {
        let value = std::str::from_utf8(value).map_err(|_| LengthError::Malformed)?;
        for item in value.split(',').map(str::trim) {
            if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
                return Err(LengthError::Malformed);
            }
            let len: u64 = item.parse().map_err(|_| LengthError::Malformed)?;
            if length.is_some_and(|known| known != len) {
                return Err(LengthError::Conflicting);
            }
            length = Some(len);
        }
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::crlf(b"GET / HTTP/1.1\r\n\r\nbody", Some(18))]
    #[case::bare_lf(b"GET / HTTP/1.1\n\nbody", Some(16))]
    #[case::incomplete(b"GET / HTTP/1.1\r\nHost: a\r\n", None)]
    fn heads_end_at_the_blank_line(#[case] buf: &[u8], #[case] end: Option<usize>) {
        assert_eq!(head_end(buf, 0), end);
    }

    #[tokio::test]
    async fn a_head_is_read_across_reads_and_what_follows_it_is_kept() {
        let (mut client, mut server) = tokio::io::duplex(8);
        let sent = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest")
                .await
        });
        let mut buf = Vec::new();
        let len = read_head(&mut server, &mut buf).await.unwrap();
        sent.await.unwrap().unwrap();
        assert_eq!(len, Some(27));
        assert!(buf[27..].iter().all(|b| b"rest".contains(b)));
    }

    #[tokio::test]
    async fn an_ended_stream_or_an_endless_head_is_no_head() {
        let mut short: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n";
        let mut buf = Vec::new();
        assert_eq!(read_head(&mut short, &mut buf).await.unwrap(), None);
        assert!(!buf.is_empty());
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        let mut buf = Vec::new();
        assert_eq!(
            read_head(&mut long.as_bytes(), &mut buf).await.unwrap(),
            None
        );
        assert!(buf.len() >= MAX_HEAD);
    }

    #[rstest]
    #[case::none(&[], Ok(None))]
    #[case::one(&["12"], Ok(Some(12)))]
    #[case::repeated_alike(&["7", "7, 7"], Ok(Some(7)))]
    #[case::conflicting(&["7", "8"], Err(LengthError::Conflicting))]
    #[case::signed(&["+7"], Err(LengthError::Malformed))]
    #[case::empty_item(&["7,"], Err(LengthError::Malformed))]
    #[case::too_big(&["99999999999999999999999"], Err(LengthError::Malformed))]
    fn content_length_is_one_number(
        #[case] values: &[&str],
        #[case] expected: Result<Option<u64>, LengthError>,
    ) {
        assert_eq!(
            content_length(values.iter().map(|v| v.as_bytes())),
            expected
        );
    }
}
