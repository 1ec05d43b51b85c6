//! HTTP/1.1 by hand on top of httparse: an incremental, bounded request decoder and a response
//! writer; and, for telemetry delivery, a request writer and response reader (`client`). Pure
//! functions over byte buffers; the reactor does the IO.
//!
//! Every limit is a named constant here. Body limits are not: each route sets its own, from the
//! head, before the body is read (see `api`).

mod body;
pub(crate) mod client;
mod error;
mod request;
mod response;

pub use error::ParseError;
pub use request::{Event, Method, RequestDecoder};
pub(crate) use request::{Framing, Head};
pub(crate) use response::{CONTINUE, decimal, write_head, write_response};

/// The longest request head (request line and header fields) accepted; longer is 431.
/// rapid serves the Runtime API with Go's net/http, whose default `MaxHeaderBytes` is 1 MiB,
/// and runtimes do send big heads: an X-Ray error cause travels in the
/// `Lambda-Runtime-Function-XRay-Error-Cause` header, stack trace included. A connection's buffer
/// only grows to the size of the heads it actually receives.
pub(crate) const MAX_HEAD_BYTES: usize = 1024 * 1024;

/// The most header fields in a head (and trailer fields in a trailer section); more is 431.
pub(crate) const MAX_HEADERS: usize = 100;

/// The longest chunk-size line, extensions included; longer is 400.
pub(crate) const MAX_CHUNK_LINE_BYTES: usize = 4 * 1024;

/// The longest trailer section. A streamed response's `Lambda-Runtime-Function-Error-Body`
/// trailer is base64 of the error JSON, stack trace included, so this is generous.
pub(crate) const MAX_TRAILER_BYTES: usize = 64 * 1024;
