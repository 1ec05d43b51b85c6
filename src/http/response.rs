//! The response writer: status line, headers and `Content-Length` into a byte buffer. No IO.

use std::io::Write as _;

/// The reason phrase for the status codes this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// The interim response that lets a client send the body it is holding back.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Appends a response head with `Content-Length: body_len` (and `Connection: close` when
/// `close`) to `out`. The body is written separately, so large payloads need not be copied.
///
/// Header values that came from a peer were checked by httparse; any CR or LF in a value from
/// elsewhere is replaced by a space so that a header can never split the response.
pub fn write_head(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &[u8])],
    body_len: usize,
    close: bool,
) {
    // Writes to a Vec cannot fail.
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", status, reason(status));
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        let start = out.len();
        out.extend_from_slice(value);
        for b in &mut out[start..] {
            if *b == b'\r' || *b == b'\n' {
                *b = b' ';
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    let _ = write!(out, "Content-Length: {body_len}\r\n");
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a whole response (head and body) to `out`.
pub fn write_response(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &[u8])],
    body: &[u8],
    close: bool,
) {
    write_head(out, status, headers, body.len(), close);
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_complete_response() {
        let mut out = Vec::new();
        write_response(
            &mut out,
            202,
            &[("Content-Type", b"application/json")],
            br#"{"status":"OK"}"#,
            false,
        );
        assert_eq!(
            out,
            b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}"
        );
    }

    #[test]
    fn header_values_cannot_split_the_response() {
        let mut out = Vec::new();
        write_head(&mut out, 200, &[("X", b"a\r\nInjected: 1")], 0, true);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nX: a  Injected: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }
}
