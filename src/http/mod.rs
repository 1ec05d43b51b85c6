//! HTTP/1.1 by hand on top of httparse: an incremental, bounded request decoder and a response
//! writer. Pure functions over byte buffers; the reactor does the IO.
//!
//! Every limit is a named constant here. Body limits are not: each route sets its own, from the
//! head, before the body is read (see `api`).

mod body;
mod error;
mod request;
mod response;

pub use error::ParseError;
pub use request::{Event, Framing, Head, Method, RequestDecoder, Version};
pub use response::{CONTINUE, reason, write_head, write_response};

/// The longest request head (request line and header fields) accepted; longer is 431.
/// Lambda's largest invoke header, `X-Amz-Client-Context`, is at most 3 583 bytes of base64;
/// signed AWS SDK requests add about 2 KiB more. Go's net/http allows 1 MiB; 32 KiB is ample.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// The most header fields in a head (and trailer fields in a trailer section); more is 431.
pub const MAX_HEADERS: usize = 64;

/// The longest chunk-size line, extensions included; longer is 400.
pub const MAX_CHUNK_LINE_BYTES: usize = 4 * 1024;

/// The longest trailer section. A streamed response's `Lambda-Runtime-Function-Error-Body`
/// trailer is base64 of the error JSON, stack trace included, so this is generous.
pub const MAX_TRAILER_BYTES: usize = 64 * 1024;
