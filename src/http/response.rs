//! The response writer: status line, headers and `Content-Length` into a byte buffer. No IO.

use std::io::Write as _;

/// The reason phrase for the status codes this server sends.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
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

/// The whole status line of the statuses every invocation sends, ready to copy.
fn status_line(status: u16) -> Option<&'static [u8]> {
    Some(match status {
        200 => b"HTTP/1.1 200 OK\r\n",
        202 => b"HTTP/1.1 202 Accepted\r\n",
        _ => return None,
    })
}

/// Formats `n` in decimal at the end of `buf`, returning the digits: no formatting machinery
/// on the hot path.
pub(crate) fn decimal(buf: &mut [u8; 20], mut n: u64) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// The interim response that lets a client send the body it is holding back.
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Appends a response head with `Content-Length: body_len` (and `Connection: close` when
/// `close`) to `out`. The body is written separately, so large payloads need not be copied.
///
/// Header values that came from a peer were checked by httparse; any CR or LF in a value from
/// elsewhere is replaced by a space so that a header can never split the response.
pub(crate) fn write_head(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &[u8])],
    body_len: usize,
    close: bool,
) {
    match status_line(status) {
        Some(line) => out.extend_from_slice(line),
        // Writes to a Vec cannot fail.
        None => {
            let _ = write!(out, "HTTP/1.1 {} {}\r\n", status, reason(status));
        }
    }
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        let start = out.len();
        out.extend_from_slice(value);
        // A select and a store for every byte, rather than a branch: many bytes at a time.
        for b in &mut out[start..] {
            *b = if *b == b'\r' || *b == b'\n' { b' ' } else { *b };
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    let mut digits = [0; 20];
    out.extend_from_slice(decimal(&mut digits, body_len as u64));
    out.extend_from_slice(b"\r\n");
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a whole response (head and body) to `out`.
pub(crate) fn write_response(
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
    fn status_lines_from_the_table_match_the_formatted_ones() {
        for status in [200, 202] {
            let mut fast = Vec::new();
            write_head(&mut fast, status, &[], 0, false);
            let formatted = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            assert!(fast.starts_with(formatted.as_bytes()));
        }
        let mut other = Vec::new();
        write_head(&mut other, 429, &[], 7, false);
        assert_eq!(
            other,
            b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 7\r\n\r\n"
        );
    }

    #[test]
    fn decimals() {
        let mut buf = [0; 20];
        assert_eq!(decimal(&mut buf, 0), b"0");
        assert_eq!(decimal(&mut buf, 6_291_556), b"6291556");
        assert_eq!(decimal(&mut buf, u64::MAX), u64::MAX.to_string().as_bytes());
    }

    #[test]
    fn header_values_cannot_split_the_response() {
        let mut out = Vec::new();
        write_head(&mut out, 200, &[("X", b"a\r\nInjected: 1")], 0, true);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nX: a  Injected: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        // Long enough to be checked many bytes at a time, with breaks here and there.
        let mut value = vec![b'v'; 200];
        for at in [0, 17, 63, 64, 130, 199] {
            value[at] = if at % 2 == 0 { b'\r' } else { b'\n' };
        }
        let mut out = Vec::new();
        write_head(&mut out, 200, &[("Y", &value)], 0, false);
        let head = String::from_utf8(out).unwrap();
        assert_eq!(head.matches("\r\n").count(), 4, "{head:?}");
        // The status line's two, one after each of the two names, and the six breaks.
        assert_eq!(head.matches(' ').count(), 2 + 2 + 6);
    }
}
