//! The incremental, bounded HTTP/1.1 request decoder.
//!
//! Bytes go in with [`RequestDecoder::feed`]; [`RequestDecoder::next_event`] hands back
//! [`Event::Head`] as soon as a request's head is complete, so that the caller can route it and
//! choose the body's fate ([`RequestDecoder::read_body`] with that route's limit, or
//! [`RequestDecoder::discard_body`]) before any body byte is read, then [`Event::Complete`] once
//! the body has arrived. After [`RequestDecoder::finish`] the next pipelined request is parsed
//! from what is already buffered (h11's `PAUSED`: one request at a time, answered in order).
//!
//! The head stays where it arrived, at the front of the buffer, and is described by byte
//! offsets (hyper's `HeaderIndices`), so parsing a request allocates nothing once the
//! connection's buffers have grown to its usual size.

use std::ops::Range;

use super::body::{BodyDecoder, Chunk};
use super::{MAX_HEAD_BYTES, MAX_HEADERS, ParseError};

/// What [`RequestDecoder::next_event`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A request head is complete; read it with [`RequestDecoder::head`], then call
    /// [`RequestDecoder::read_body`] or [`RequestDecoder::discard_body`].
    Head,
    /// The request's body is complete; take it with [`RequestDecoder::take_body`], answer, then
    /// call [`RequestDecoder::finish`].
    Complete,
}

/// The request method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// Any other token.
    Other,
}

/// The protocol version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`: the connection closes after the response unless the client asks otherwise.
    Http10,
    /// `HTTP/1.1`
    Http11,
}

/// How the request's body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

#[derive(Debug)]
enum State {
    /// Waiting for a complete head.
    Head,
    /// `Event::Head` was returned; the caller has not yet chosen what to do with the body.
    Routing,
    /// Reading the body: kept (up to `limit`) or dropped.
    Body {
        framing: BodyDecoder,
        keep: bool,
        limit: u64,
        seen: u64,
    },
    /// `Event::Complete` was returned; waiting for `finish`.
    Complete,
    /// A sticky error.
    Failed(ParseError),
}

/// Byte offsets of the current request's head inside the decoder's buffer.
#[derive(Debug)]
struct HeadIndex {
    method: Method,
    version: Version,
    target: Range<usize>,
    /// The target's path and query (`Head::path`, `Head::query`), split once at parse time;
    /// no path is the absolute form's "/".
    path: Option<Range<usize>>,
    query: Option<Range<usize>>,
    fields: Vec<(Range<usize>, Range<usize>)>,
    framing: Framing,
    keep_alive: bool,
    expect_continue: bool,
}

/// An incremental HTTP/1.1 request decoder for one connection. See the module docs.
#[derive(Debug)]
pub struct RequestDecoder {
    /// Unconsumed input. While a request is in progress its head is `buf[..head_len]`.
    buf: Vec<u8>,
    head_len: usize,
    /// How much of `buf` the last incomplete parse of a head saw. The head is parsed again only
    /// once a line has ended since, so a head that arrives a byte at a time costs a parse per
    /// line, not per byte.
    scanned: usize,
    index: HeadIndex,
    state: State,
    body: Vec<u8>,
    trailers: Vec<u8>,
}

impl Default for RequestDecoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Buffers this large are released rather than kept for the next request, so that a connection
/// parked on a long poll costs little memory.
const KEEP_CAPACITY: usize = 8 * 1024;

impl RequestDecoder {
    /// A decoder expecting the first request of a connection.
    pub fn new() -> RequestDecoder {
        RequestDecoder {
            buf: Vec::new(),
            head_len: 0,
            scanned: 0,
            index: HeadIndex {
                method: Method::Other,
                version: Version::Http11,
                target: 0..0,
                path: None,
                query: None,
                fields: Vec::new(),
                framing: Framing::None,
                keep_alive: true,
                expect_continue: false,
            },
            state: State::Head,
            body: Vec::new(),
            trailers: Vec::new(),
        }
    }

    /// Appends bytes received from the peer.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received and not yet consumed, including the current request's head.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// True between requests with nothing buffered: an end of stream here is a clean close.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head) && self.buf.is_empty()
    }

    /// True while a request's body is still expected: an end of stream here truncates it.
    pub fn is_reading_body(&self) -> bool {
        matches!(self.state, State::Body { .. })
    }

    /// Advances as far as the buffered bytes allow. `Ok(None)` means more input is needed, or
    /// the caller has still to act on the last event.
    pub fn next_event(&mut self) -> Result<Option<Event>, ParseError> {
        match self.state {
            State::Failed(e) => Err(e),
            State::Routing | State::Complete => Ok(None),
            State::Head => match self.parse_head() {
                Ok(found) => Ok(found),
                Err(e) => Err(self.fail(e)),
            },
            State::Body { .. } => match self.decode_body() {
                Ok(found) => Ok(found),
                Err(e) => Err(self.fail(e)),
            },
        }
    }

    /// The head of the current request. Only meaningful between `Event::Head` and `finish`.
    pub fn head(&self) -> Head<'_> {
        Head {
            raw: &self.buf[..self.head_len],
            index: &self.index,
        }
    }

    /// Keeps the body, refusing it with [`ParseError::BodyTooLarge`] past `limit` bytes. A
    /// declared `Content-Length` over the limit is refused at once, before any body byte.
    pub fn read_body(&mut self, limit: u64) -> Result<(), ParseError> {
        self.start_body(true, limit)
    }

    /// Reads the body's framing but drops its bytes (a request answered before its body,
    /// on a connection that stays open). Past `limit` bytes it fails like `read_body`.
    pub fn discard_body(&mut self, limit: u64) -> Result<(), ParseError> {
        self.start_body(false, limit)
    }

    /// The body of a complete request, leaving an empty one behind. While the body is still
    /// being read, the part decoded so far: a streamed body is taken piece by piece, and its
    /// limit still counts every byte.
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// How many body bytes are kept and not yet taken.
    pub fn body_len(&self) -> usize {
        self.body.len()
    }

    /// The raw trailer section of a chunked request (`name: value` lines and the final empty
    /// line); empty without trailers.
    pub fn trailers_raw(&self) -> &[u8] {
        &self.trailers
    }

    /// The value of trailer field `name`, if the chunked body carried one.
    pub fn trailer(&self, name: &str) -> Option<&[u8]> {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        match httparse::parse_headers(&self.trailers, &mut fields) {
            Ok(httparse::Status::Complete((_, fields))) => fields
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(name))
                .map(|f| f.value),
            _ => None,
        }
    }

    /// Ends the current request, after its response has been queued, and makes the decoder
    /// ready for the next one. Returns whether the connection may be kept open.
    pub fn finish(&mut self) -> bool {
        let keep_alive = self.index.keep_alive;
        self.buf.drain(..self.head_len);
        self.head_len = 0;
        self.index.fields.clear();
        self.body = Vec::new();
        self.trailers.clear();
        if !matches!(self.state, State::Failed(_)) {
            self.state = State::Head;
        }
        if self.buf.is_empty() && self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        }
        keep_alive
    }

    /// Gives back memory that only a large request needed; for connections about to park.
    pub fn shrink(&mut self) {
        if self.buf.capacity() > KEEP_CAPACITY.max(self.buf.len() * 2) {
            self.buf.shrink_to(self.buf.len());
        }
        if self.trailers.capacity() > KEEP_CAPACITY {
            self.trailers = Vec::new();
        }
    }

    fn fail(&mut self, e: ParseError) -> ParseError {
        self.state = State::Failed(e);
        e
    }

    fn start_body(&mut self, keep: bool, limit: u64) -> Result<(), ParseError> {
        if !matches!(self.state, State::Routing) {
            return Ok(());
        }
        // An absent body decodes as an empty one, so that `Event::Complete` always follows.
        let framing = match self.index.framing {
            Framing::None => BodyDecoder::Length { remaining: 0 },
            Framing::Length(n) if n > limit => {
                return Err(self.fail(ParseError::BodyTooLarge { limit }));
            }
            Framing::Length(n) => BodyDecoder::Length { remaining: n },
            Framing::Chunked => BodyDecoder::Chunked(Chunk::Size),
        };
        if keep {
            if let Framing::Length(n) = self.index.framing {
                // Reserve once for the declared size (already checked against the limit).
                self.body.reserve(usize::try_from(n).unwrap_or(0));
            }
        }
        self.state = State::Body {
            framing,
            keep,
            limit,
            seen: 0,
        };
        Ok(())
    }

    /// The head did not parse. Only whole lines decide an error, so that the outcome does not
    /// depend on how the bytes were split into reads: one in an unfinished last line waits for
    /// the rest of it. (Out of line: the hot path keeps its one, inlined, parse.)
    #[cold]
    #[inline(never)]
    fn head_error(&mut self) -> Result<Option<Event>, ParseError> {
        let lines = match self.buf.iter().rposition(|&b| b == b'\n') {
            Some(end) => &self.buf[..=end],
            None => &[][..],
        };
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        match httparse::Request::new(&mut fields).parse(lines) {
            Ok(_) => self.partial_head(),
            Err(httparse::Error::TooManyHeaders) => Err(ParseError::TooManyHeaders),
            Err(httparse::Error::Version) => Err(ParseError::VersionNotSupported),
            Err(_) => Err(ParseError::Malformed(
                "invalid request line or header field",
            )),
        }
    }

    /// A head not yet whole: waits for more, within the limit.
    fn partial_head(&mut self) -> Result<Option<Event>, ParseError> {
        if self.buf.len() > MAX_HEAD_BYTES {
            return Err(ParseError::HeadTooLarge);
        }
        self.scanned = self.buf.len();
        Ok(None)
    }

    fn parse_head(&mut self) -> Result<Option<Event>, ParseError> {
        // Nothing new until a line ends (a head's first bytes go straight to httparse, which
        // reads them once either way).
        let from = self.scanned.min(self.buf.len());
        if from > 0 && !self.buf[from..].contains(&b'\n') {
            return self.partial_head();
        }
        // Left uninitialised: httparse writes the fields it finds, and zeroing all of them
        // (3.2 KB) for every request cost more than parsing a short one.
        let mut fields = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut []);
        let n = match req.parse_with_uninit_headers(&self.buf, &mut fields) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return self.partial_head(),
            Err(_) => return self.head_error(),
        };
        if n > MAX_HEAD_BYTES {
            return Err(ParseError::HeadTooLarge);
        }
        let base = self.buf.as_ptr() as usize;
        let span = |s: &[u8]| {
            let start = s.as_ptr() as usize - base;
            start..start + s.len()
        };
        let index = &mut self.index;
        index.method = match req.method.unwrap_or("") {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            _ => Method::Other,
        };
        index.version = if req.version == Some(0) {
            Version::Http10
        } else {
            Version::Http11
        };
        let target = req.path.unwrap_or("");
        index.target = span(target.as_bytes());
        let (path, query) = split_target(target);
        index.path = path.map(|p| span(p.as_bytes()));
        index.query = query.map(|q| span(q.as_bytes()));
        index.fields.clear();
        let mut length: Option<u64> = None;
        let mut transfer_encoding = false;
        let mut chunked = false;
        let mut close = false;
        let mut keep_alive = false;
        let mut expect_continue = false;
        for field in req.headers.iter() {
            index
                .fields
                .push((span(field.name.as_bytes()), span(field.value)));
            let name = field.name;
            if name.eq_ignore_ascii_case("content-length") {
                // RFC 9112 §6.3: a field with no length in it (empty, or commas only) is as
                // invalid as one with a bad length, not absent: read as absent, the body
                // would be taken for the next request.
                if split_list(field.value).next().is_none() {
                    return Err(ParseError::Malformed("invalid Content-Length"));
                }
                for item in split_list(field.value) {
                    let value = parse_decimal(item)
                        .ok_or(ParseError::Malformed("invalid Content-Length"))?;
                    if length.is_some_and(|l| l != value) {
                        return Err(ParseError::Malformed("conflicting Content-Length"));
                    }
                    length = Some(value);
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                transfer_encoding = true;
                for coding in split_list(field.value) {
                    if chunked {
                        // RFC 9112 §6.1: chunked must be the final coding, applied once.
                        return Err(ParseError::Malformed("chunked is not the final coding"));
                    }
                    if coding.eq_ignore_ascii_case(b"chunked") {
                        chunked = true;
                    } else {
                        return Err(ParseError::UnsupportedTransferEncoding);
                    }
                }
            } else if name.eq_ignore_ascii_case("connection") {
                for option in split_list(field.value) {
                    close |= option.eq_ignore_ascii_case(b"close");
                    keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
                }
            } else if name.eq_ignore_ascii_case("expect") {
                if trim(field.value).eq_ignore_ascii_case(b"100-continue") {
                    expect_continue = true;
                } else {
                    return Err(ParseError::ExpectationFailed);
                }
            }
        }
        index.framing = if transfer_encoding {
            if index.version == Version::Http10 {
                // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
                return Err(ParseError::Malformed(
                    "Transfer-Encoding in an HTTP/1.0 request",
                ));
            }
            if length.is_some() {
                // RFC 9112 §6.3 allows refusing this classic request-smuggling shape.
                return Err(ParseError::Malformed(
                    "both Content-Length and Transfer-Encoding",
                ));
            }
            if !chunked {
                return Err(ParseError::Malformed("empty Transfer-Encoding"));
            }
            Framing::Chunked
        } else {
            match length {
                Some(n) => Framing::Length(n),
                None => Framing::None,
            }
        };
        index.keep_alive = match index.version {
            Version::Http11 => !close,
            Version::Http10 => keep_alive && !close,
        };
        // RFC 9110 §10.1.1: a server ignores 100-continue from an HTTP/1.0 client.
        index.expect_continue = expect_continue && index.version == Version::Http11;
        self.head_len = n;
        self.scanned = 0;
        self.state = State::Routing;
        Ok(Some(Event::Head))
    }

    fn decode_body(&mut self) -> Result<Option<Event>, ParseError> {
        let State::Body {
            mut framing,
            keep,
            limit,
            mut seen,
        } = self.state
        else {
            return Ok(None);
        };
        let body = &mut self.body;
        let trailers = &mut self.trailers;
        let progress = framing.decode(
            &self.buf[self.head_len..],
            &mut |data| {
                seen += data.len() as u64;
                if seen > limit {
                    return Err(ParseError::BodyTooLarge { limit });
                }
                if keep {
                    body.extend_from_slice(data);
                }
                Ok(())
            },
            &mut |raw| trailers.extend_from_slice(raw),
        )?;
        // A chunk whose declared size takes the body past the limit is refused at once, as a
        // Content-Length over it is, rather than after its bytes have come.
        if let BodyDecoder::Chunked(Chunk::Data { remaining }) = framing {
            if seen.saturating_add(remaining) > limit {
                return Err(ParseError::BodyTooLarge { limit });
            }
        }
        self.buf
            .drain(self.head_len..self.head_len + progress.consumed);
        if progress.done {
            self.state = State::Complete;
            Ok(Some(Event::Complete))
        } else {
            self.state = State::Body {
                framing,
                keep,
                limit,
                seen,
            };
            Ok(None)
        }
    }
}

/// A view of the current request's head.
#[derive(Clone, Copy, Debug)]
pub struct Head<'a> {
    raw: &'a [u8],
    index: &'a HeadIndex,
}

impl<'a> Head<'a> {
    /// The method.
    pub fn method(&self) -> Method {
        self.index.method
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.index.version
    }

    /// The request target as sent (`/path?query`, or absolute form).
    pub fn target(&self) -> &'a str {
        std::str::from_utf8(&self.raw[self.index.target.clone()]).unwrap_or("")
    }

    /// The path, without query, and without scheme and authority if the client sent the
    /// absolute form (RFC 9112 §3.2.2).
    #[inline(never)]
    pub fn path(&self) -> &'a str {
        std::str::from_utf8(self.path_bytes()).unwrap_or("")
    }

    /// [`Head::path`]'s bytes, with no UTF-8 check: what routing compares with its paths.
    pub fn path_bytes(&self) -> &'a [u8] {
        match self.index.path.clone() {
            Some(path) => &self.raw[path],
            None => b"/",
        }
    }

    /// The query string, without `?`.
    pub fn query(&self) -> Option<&'a str> {
        let query = self.index.query.clone()?;
        std::str::from_utf8(&self.raw[query]).ok()
    }

    /// The first value of header `name` (case-insensitive), as sent.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.index
            .fields
            .iter()
            .find(|(n, _)| self.raw[n.clone()].eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| &self.raw[v.clone()])
    }

    /// The first value of header `name` if it is UTF-8, trimmed of surrounding whitespace.
    pub fn header_str(&self, name: &str) -> Option<&'a str> {
        self.header(name).and_then(trimmed_str)
    }

    /// Every header field, in order.
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let raw = self.raw;
        self.index.fields.iter().map(move |(n, v)| {
            (
                std::str::from_utf8(&raw[n.clone()]).unwrap_or(""),
                &raw[v.clone()],
            )
        })
    }

    /// How the body is delimited.
    pub fn framing(&self) -> Framing {
        self.index.framing
    }

    /// Whether the connection may stay open after this request.
    pub fn keep_alive(&self) -> bool {
        self.index.keep_alive
    }

    /// Whether the client waits for `100 Continue` before sending the body.
    pub fn expect_continue(&self) -> bool {
        self.index.expect_continue && self.index.framing != Framing::None
    }
}

/// A request target's path (without scheme and authority in the absolute form, RFC 9112
/// §3.2.2; `None` when the absolute form has none, which means `/`) and its query, without `?`.
fn split_target(target: &str) -> (Option<&str>, Option<&str>) {
    let mut rest = target;
    if let Some(after) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        rest = match after.find(['/', '?']) {
            Some(i) => &after[i..],
            None => "",
        };
    }
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let absolute = rest.len() != target.len();
    ((!(absolute && path.is_empty())).then_some(path), query)
}

/// The items of a comma-separated header list, trimmed, empty items skipped.
fn split_list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|b| *b == b',')
        .map(trim)
        .filter(|s| !s.is_empty())
}

/// `value` trimmed, if it is UTF-8. Not inlined: each header lookup finds its field inline,
/// and shares this.
#[inline(never)]
fn trimmed_str(value: &[u8]) -> Option<&str> {
    std::str::from_utf8(trim(value)).ok()
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests;
