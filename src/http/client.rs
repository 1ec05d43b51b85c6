//! The outbound side of HTTP/1.1, for telemetry delivery (the reactor's `outbound`): a `POST` writer and an incremental
//! reader of the response to it. Like the request decoder it works on byte slices and never
//! touches a socket; the reactor owns those.
//!
//! A subscriber's answer matters only for its status and whether the connection can carry the
//! next batch, so the reader keeps no body: it frames it (`Content-Length`, `chunked`, or up to
//! the connection's close, RFC 9112 §6.3) and drops it.

use super::body::BodyDecoder;
use super::{MAX_HEADERS, ParseError, decimal};

/// A response head larger than this is refused: subscribers answer with a few headers.
pub(crate) const MAX_RESPONSE_HEAD_BYTES: usize = 64 * 1024;

/// Appends a `POST` head for a body of `body_len` bytes, keep-alive. The caller appends the body.
pub(crate) fn write_post(
    out: &mut Vec<u8>,
    host: &str,
    path: &str,
    content_type: &[u8],
    body_len: usize,
) {
    let mut digits = [0; 20];
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: ");
    out.extend_from_slice(content_type);
    out.extend_from_slice(b"\r\nContent-Length: ");
    out.extend_from_slice(decimal(&mut digits, body_len as u64));
    out.extend_from_slice(b"\r\n\r\n");
}

/// A complete response, as far as a sender cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Whether the connection may carry another request.
    pub keep_alive: bool,
}

impl Answer {
    /// A 2xx: the batch was taken.
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reading {
    Head,
    /// The body of a response with this status, framed by `body` or, if `None`, by the close.
    Body {
        answer: Answer,
        body: Option<BodyDecoder>,
    },
}

/// Reads the response to one request. The caller keeps the bytes read from the socket and
/// offers them with [`ResponseReader::feed`]; what it does not use (a partial head or chunk-size
/// line) is offered again with more appended, as with the request decoder.
#[derive(Debug)]
pub struct ResponseReader {
    state: Reading,
}

impl Default for ResponseReader {
    fn default() -> ResponseReader {
        ResponseReader {
            state: Reading::Head,
        }
    }
}

impl ResponseReader {
    /// Ready for the response to the next request.
    pub fn reset(&mut self) {
        self.state = Reading::Head;
    }

    /// Reads what it can of `input`: the answer once the whole response has been read, and how
    /// many bytes it used (after a complete answer, the rest belongs to no request of ours).
    /// Interim `1xx` responses are skipped.
    pub fn feed(&mut self, input: &[u8]) -> Result<(Option<Answer>, usize), ParseError> {
        let mut at = 0;
        loop {
            match &mut self.state {
                Reading::Head => {
                    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    let mut response = httparse::Response::new(&mut fields);
                    match response.parse(&input[at..]) {
                        Ok(httparse::Status::Partial) => {
                            if input.len() - at >= MAX_RESPONSE_HEAD_BYTES {
                                return Err(ParseError::HeadTooLarge);
                            }
                            return Ok((None, at));
                        }
                        // The same limit whole or split: a complete head counts too.
                        Ok(httparse::Status::Complete(head_len))
                            if head_len > MAX_RESPONSE_HEAD_BYTES =>
                        {
                            return Err(ParseError::HeadTooLarge);
                        }
                        Ok(httparse::Status::Complete(head_len)) => {
                            at += head_len;
                            let status = response.code.unwrap_or(0);
                            self.state = frame(&response, status)?;
                        }
                        Err(e) => return Err(ParseError::Malformed(malformed(e))),
                    }
                }
                Reading::Body { answer, body } => {
                    let answer = *answer;
                    let Some(decoder) = body else {
                        // Up to the close: everything until then is body.
                        return Ok((None, input.len()));
                    };
                    let progress = decoder.decode(&input[at..], &mut |_| Ok(()), &mut |_| {})?;
                    at += progress.consumed;
                    if !progress.done {
                        return Ok((None, at));
                    }
                    if answer.status < 200 {
                        self.state = Reading::Head; // an interim response: the real one follows
                        continue;
                    }
                    self.reset();
                    return Ok((Some(answer), at));
                }
            }
        }
    }

    /// The peer closed its side: completes a response framed by the close, and is an error
    /// for one cut short.
    pub fn feed_eof(&mut self) -> Result<Answer, ParseError> {
        match self.state {
            Reading::Body { answer, body: None } => {
                self.reset();
                Ok(answer)
            }
            _ => Err(ParseError::Malformed(
                "the connection closed before the response ended",
            )),
        }
    }
}

/// How the body after `response`'s head is framed (RFC 9112 §6.3).
fn frame(response: &httparse::Response<'_, '_>, status: u16) -> Result<Reading, ParseError> {
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut close = response.version == Some(0);
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or(ParseError::Malformed("invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(ParseError::Malformed("conflicting Content-Length"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h
                .value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for option in h.value.split(|b| *b == b',') {
                let option = option.trim_ascii();
                if option.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if option.eq_ignore_ascii_case(b"keep-alive") && response.version == Some(0)
                {
                    close = false;
                }
            }
        }
    }
    let no_body = status < 200 || status == 204 || status == 304;
    let body = if no_body {
        Some(BodyDecoder::Length { remaining: 0 })
    } else if chunked {
        Some(BodyDecoder::Chunked(super::body::Chunk::Size))
    } else {
        length.map(|remaining| BodyDecoder::Length { remaining })
    };
    // A body that ends with the connection leaves nothing to reuse.
    let keep_alive = !close && body.is_some();
    Ok(Reading::Body {
        answer: Answer { status, keep_alive },
        body,
    })
}

fn malformed(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::Status => "invalid status line",
        httparse::Error::Version => "invalid HTTP version",
        httparse::Error::TooManyHeaders => "too many header fields",
        _ => "invalid response head",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(reader: &mut ResponseReader, input: &[u8]) -> Option<(Answer, usize)> {
        match reader.feed(input).unwrap() {
            (Some(a), used) => Some((a, used)),
            (None, _) => None,
        }
    }

    /// Feeds `response` a byte at a time as a caller would: unused bytes are offered again.
    fn byte_by_byte(response: &[u8]) -> (Option<Answer>, usize) {
        let mut r = ResponseReader::default();
        let mut pending = Vec::new();
        for (i, b) in response.iter().enumerate() {
            pending.push(*b);
            let (a, used) = r.feed(&pending).unwrap();
            pending.drain(..used);
            if a.is_some() {
                return (a, i);
            }
        }
        (None, response.len())
    }

    #[test]
    fn writes_a_keep_alive_post() {
        let mut out = Vec::new();
        write_post(
            &mut out,
            "sandbox.localdomain:8080",
            "/t?x=1",
            b"application/json",
            42,
        );
        assert_eq!(
            out,
            b"POST /t?x=1 HTTP/1.1\r\nHost: sandbox.localdomain:8080\r\nContent-Type: application/json\r\nContent-Length: 42\r\n\r\n"
        );
    }

    #[test]
    fn reads_content_length_chunked_and_bodiless_answers() {
        let mut r = ResponseReader::default();
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK";
        assert_eq!(
            read_all(&mut r, ok),
            Some((
                Answer {
                    status: 200,
                    keep_alive: true
                },
                ok.len()
            ))
        );
        let chunked =
            b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let (a, used) = read_all(&mut r, chunked).unwrap();
        assert_eq!(
            (a.status, a.keep_alive, a.accepted(), used),
            (500, true, false, chunked.len())
        );
        let empty = b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200";
        let (a, used) = read_all(&mut r, empty).unwrap();
        assert_eq!(
            (a.status, used),
            (204, empty.len() - 12),
            "the rest is not ours"
        );
    }

    #[test]
    fn byte_by_byte_gives_the_same_answer() {
        let responses: [&[u8]; 2] = [
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
        ];
        for response in responses {
            let (answer, at) = byte_by_byte(response);
            assert_eq!(at, response.len() - 1, "complete only at the last byte");
            let whole = ResponseReader::default().feed(response).unwrap();
            assert_eq!(answer, whole.0);
            assert_eq!(whole.1, response.len());
        }
        assert_eq!(
            byte_by_byte(responses[0]).0,
            Some(Answer {
                status: 202,
                keep_alive: false
            })
        );
    }

    #[test]
    fn a_body_framed_by_the_close_ends_at_eof() {
        let mut r = ResponseReader::default();
        assert_eq!(read_all(&mut r, b"HTTP/1.0 200 OK\r\n\r\nsome body"), None);
        assert_eq!(
            r.feed_eof().unwrap(),
            Answer {
                status: 200,
                keep_alive: false
            }
        );
        // A response cut short is an error, not an answer.
        let mut r = ResponseReader::default();
        assert_eq!(
            read_all(&mut r, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"),
            None
        );
        assert!(r.feed_eof().is_err());
        let mut r = ResponseReader::default();
        assert!(r.feed_eof().is_err());
    }

    #[test]
    fn bad_answers_are_errors_not_panics() {
        for bad in [
            &b"HTTP/1.1 abc OK\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"NOT HTTP\r\n\r\n",
        ] {
            assert!(ResponseReader::default().feed(bad).is_err(), "{bad:?}");
        }
        let mut r = ResponseReader::default();
        let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_RESPONSE_HEAD_BYTES));
        assert_eq!(r.feed(&huge), Err(ParseError::HeadTooLarge));
    }
}
