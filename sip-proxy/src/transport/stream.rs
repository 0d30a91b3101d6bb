//! Framing SIP messages on a byte stream (TCP, TLS): RFC 3261 §18.3 and RFC 5626 §3.5.1.
//!
//! On a stream, Content-Length is mandatory and is the only way to find the end of a
//! message. A peer that sends a header section or a message larger than the limit, or no
//! usable Content-Length, cannot be resynchronised: the framer reports an error and the
//! driver closes the connection.

/// What the framer found at the front of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One whole SIP message (header section and body).
    Message(Vec<u8>),
    /// A keep-alive ping, CRLF CRLF (RFC 5626 §3.5.1); answer with a CRLF pong.
    Ping,
}

/// Why a stream cannot be framed any further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// The message (or its header section so far) exceeds the size limit.
    #[error("message larger than {0} bytes")]
    TooLarge(usize),
    /// A message on a stream without a Content-Length (RFC 3261 §18.3: MUST be present).
    #[error("missing Content-Length on a stream transport")]
    MissingContentLength,
    /// A Content-Length that is not a decimal number.
    #[error("malformed Content-Length")]
    BadContentLength,
}

/// Accumulates stream bytes and cuts them into messages.
#[derive(Debug)]
pub struct StreamFramer {
    buf: Vec<u8>,
    max_message: usize,
}

impl StreamFramer {
    /// A framer that refuses messages longer than `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Self {
            buf: Vec::new(),
            max_message,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        loop {
            if self.buf.starts_with(b"\r\n\r\n") {
                self.buf.drain(..4);
                return Ok(Some(Frame::Ping));
            }
            if self.buf.iter().all(|&b| b == b'\r' || b == b'\n') {
                // Possibly the first half of a ping: wait, within the size limit.
                if self.buf.len() > self.max_message {
                    return Err(FramingError::TooLarge(self.max_message));
                }
                return Ok(None);
            }
            // RFC 3261 §7.5: CRLFs before a start line are ignored.
            if self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
                continue;
            }
            break;
        }
        let Some(header_end) = find(&self.buf, b"\r\n\r\n").map(|i| i + 4) else {
            if self.buf.len() > self.max_message {
                return Err(FramingError::TooLarge(self.max_message));
            }
            return Ok(None);
        };
        let body_len = content_length(&self.buf[..header_end])?;
        let total = header_end
            .checked_add(body_len)
            .ok_or(FramingError::TooLarge(self.max_message))?;
        if total > self.max_message {
            return Err(FramingError::TooLarge(self.max_message));
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        let rest = self.buf.split_off(total);
        let message = std::mem::replace(&mut self.buf, rest);
        Ok(Some(Frame::Message(message)))
    }

    /// Bytes buffered but not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The Content-Length (or compact `l`) of a header section (RFC 3261 §20.14, §7.3.3).
fn content_length(head: &[u8]) -> Result<usize, FramingError> {
    for line in head.split(|&b| b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            let value = line[colon + 1..].trim_ascii();
            if value.is_empty() || !value.iter().all(u8::is_ascii_digit) || value.len() > 10 {
                return Err(FramingError::BadContentLength);
            }
            return std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or(FramingError::BadContentLength);
        }
    }
    Err(FramingError::MissingContentLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 4\r\n\r\nbody";

    #[test]
    fn messages_split_across_reads_and_back_to_back() {
        let mut f = StreamFramer::new(1024);
        f.push(&MSG[..10]);
        assert_eq!(f.next_frame(), Ok(None));
        let mut rest = MSG[10..].to_vec();
        rest.extend_from_slice(MSG);
        f.push(&rest);
        assert_eq!(f.next_frame(), Ok(Some(Frame::Message(MSG.to_vec()))));
        assert_eq!(f.next_frame(), Ok(Some(Frame::Message(MSG.to_vec()))));
        assert_eq!(f.next_frame(), Ok(None));
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn pings_and_stray_crlfs() {
        let mut f = StreamFramer::new(1024);
        f.push(b"\r\n\r\n");
        assert_eq!(f.next_frame(), Ok(Some(Frame::Ping)));
        f.push(b"\r\n");
        assert_eq!(f.next_frame(), Ok(None), "a lone CRLF may be half a ping");
        f.push(MSG);
        assert_eq!(f.next_frame(), Ok(Some(Frame::Message(MSG.to_vec()))));
    }

    #[test]
    fn compact_content_length_is_understood() {
        let mut f = StreamFramer::new(1024);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nl: 2\r\n\r\nok");
        assert!(matches!(f.next_frame(), Ok(Some(Frame::Message(m))) if m.ends_with(b"ok")));
    }

    #[test]
    fn unframeable_streams_are_errors() {
        let mut f = StreamFramer::new(1024);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FramingError::MissingContentLength));

        let mut f = StreamFramer::new(1024);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -5\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FramingError::BadContentLength));

        let mut f = StreamFramer::new(64);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 100\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FramingError::TooLarge(64)));

        let mut f = StreamFramer::new(64);
        f.push(&[b'A'; 65]);
        assert_eq!(
            f.next_frame(),
            Err(FramingError::TooLarge(64)),
            "endless header section"
        );
    }
}
