//! Why a request could not be decoded, and the status each reason answers with.

use std::fmt;

/// A request the decoder refuses. Errors are sticky: once returned, the decoder returns the same
/// error until it is dropped, and the connection is closed after the error response.
///
/// Incomplete input is never an error: it is `Ok(None)` from
/// [`RequestDecoder::next_event`](super::RequestDecoder::next_event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The request line, a header or the chunked framing is not valid HTTP/1.1.
    Malformed(&'static str),
    /// The head (request line and headers) is longer than `MAX_HEAD_BYTES`.
    HeadTooLarge,
    /// More than `MAX_HEADERS` header fields, or trailer fields.
    TooManyHeaders,
    /// The body is longer than the limit the route set.
    BodyTooLarge {
        /// The route's limit in bytes.
        limit: u64,
    },
    /// A transfer coding other than `chunked` (RFC 9112 §6.1: 501).
    UnsupportedTransferEncoding,
    /// An `Expect` other than `100-continue` (RFC 9110 §10.1.1: 417).
    ExpectationFailed,
    /// Not HTTP/1.0 or HTTP/1.1.
    VersionNotSupported,
}

impl ParseError {
    /// The status code to answer with (h11's `error_status_hint`).
    pub fn status(self) -> u16 {
        match self {
            ParseError::Malformed(_) => 400,
            ParseError::HeadTooLarge | ParseError::TooManyHeaders => 431,
            ParseError::BodyTooLarge { .. } => 413,
            ParseError::UnsupportedTransferEncoding => 501,
            ParseError::ExpectationFailed => 417,
            ParseError::VersionNotSupported => 505,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Malformed(what) => write!(f, "malformed HTTP request: {what}"),
            ParseError::HeadTooLarge => {
                write!(f, "request head exceeds {} bytes", super::MAX_HEAD_BYTES)
            }
            ParseError::TooManyHeaders => {
                write!(f, "more than {} header fields", super::MAX_HEADERS)
            }
            ParseError::BodyTooLarge { limit } => {
                write!(f, "request body exceeds {limit} bytes")
            }
            ParseError::UnsupportedTransferEncoding => {
                write!(f, "only the chunked transfer coding is supported")
            }
            ParseError::ExpectationFailed => write!(f, "only Expect: 100-continue is supported"),
            ParseError::VersionNotSupported => {
                write!(f, "only HTTP/1.0 and HTTP/1.1 are supported")
            }
        }
    }
}

impl std::error::Error for ParseError {}
