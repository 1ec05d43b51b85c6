//! The `application/vnd.amazon.eventstream` encoding that `InvokeWithResponseStream` answers
//! with: each message is a prelude (total length, headers length, CRC32 of those 8 bytes),
//! headers (`name length: u8`, name, type 7 = string, `value length: u16`, value), the payload,
//! and a CRC32 of everything before it. All integers big-endian; CRC32 is IEEE 802.3's (zlib's).

/// CRC-32/ISO-HDLC (polynomial 0x04C11DB7 reflected), as zlib computes it.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    crc32_update(0, bytes)
}

/// Continues a CRC32 over more bytes.
pub(crate) fn crc32_update(crc: u32, bytes: &[u8]) -> u32 {
    let mut crc = !crc;
    for &b in bytes {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// The header value type for a string.
const STRING: u8 = 7;

/// Appends one message with string `headers` and `payload` to `out`.
pub fn write_message(out: &mut Vec<u8>, headers: &[(&str, &str)], payload: &[u8]) {
    let headers_len: usize = headers
        .iter()
        .map(|(name, value)| 1 + name.len() + 1 + 2 + value.len())
        .sum();
    let total = 12 + headers_len + payload.len() + 4;
    let start = out.len();
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(headers_len as u32).to_be_bytes());
    let prelude_crc = crc32(&out[start..start + 8]);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    for (name, value) in headers {
        // Names are ours and short; values are ours too (event types, content types).
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        out.push(STRING);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(payload);
    let message_crc = crc32(&out[start..]);
    out.extend_from_slice(&message_crc.to_be_bytes());
}

/// A `PayloadChunk` event carrying `bytes` of the function's response.
pub(crate) fn payload_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    write_message(
        out,
        &[
            (":event-type", "PayloadChunk"),
            (":content-type", "application/octet-stream"),
            (":message-type", "event"),
        ],
        bytes,
    );
}

/// The final `InvokeComplete` event: `ErrorCode` and `ErrorDetails` when the invocation failed,
/// `LogResult` (base64) when the invoker asked for the log tail.
pub(crate) fn invoke_complete(
    out: &mut Vec<u8>,
    error_code: Option<&str>,
    error_details: Option<&str>,
    log_result: Option<&str>,
) {
    let mut body = serde_json::Map::new();
    if let Some(code) = error_code {
        body.insert("ErrorCode".into(), code.into());
    }
    if let Some(details) = error_details {
        body.insert("ErrorDetails".into(), details.into());
    }
    if let Some(log) = log_result {
        body.insert("LogResult".into(), log.into());
    }
    let payload = serde_json::Value::Object(body).to_string();
    write_message(
        out,
        &[
            (":event-type", "InvokeComplete"),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.as_bytes(),
    );
}

/// One decoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Its string headers, in order.
    pub headers: Vec<(String, String)>,
    /// Its payload.
    pub payload: Vec<u8>,
    /// How many bytes of the input it took.
    pub len: usize,
}

impl Message {
    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The message at the start of `bytes`, for clients and tests; `None` for anything incomplete
/// or malformed (a length or a CRC that does not match).
pub fn decode(bytes: &[u8]) -> Option<Message> {
    let be32 = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let total = be32(0)? as usize;
    let headers_len = be32(4)? as usize;
    if total < 16 || bytes.len() < total || be32(8)? != crc32(bytes.get(..8)?) {
        return None;
    }
    if be32(total - 4)? != crc32(&bytes[..total - 4]) || 12 + headers_len + 4 > total {
        return None;
    }
    let mut headers = Vec::new();
    let mut at = 12;
    while at < 12 + headers_len {
        let name_len = usize::from(*bytes.get(at)?);
        let name = std::str::from_utf8(bytes.get(at + 1..at + 1 + name_len)?).ok()?;
        at += 1 + name_len;
        if *bytes.get(at)? != STRING {
            return None;
        }
        let value_len = usize::from(u16::from_be_bytes(
            bytes.get(at + 1..at + 3)?.try_into().ok()?,
        ));
        let value = std::str::from_utf8(bytes.get(at + 3..at + 3 + value_len)?).ok()?;
        at += 3 + value_len;
        headers.push((name.to_string(), value.to_string()));
    }
    if at != 12 + headers_len {
        return None;
    }
    let payload = bytes.get(at..total - 4)?.to_vec();
    Some(Message {
        headers,
        payload,
        len: total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_check_value_and_zlib() {
        // The CRC catalogue's check value for CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        // zlib.crc32(b"The quick brown fox jumps over the lazy dog")
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        assert_eq!(crc32_update(crc32(b"12345"), b"6789"), crc32(b"123456789"));
    }

    #[test]
    fn a_message_with_no_headers_and_no_payload_is_the_published_16_bytes() {
        // The smallest message of the format: lengths 16 and 0, then the two CRCs.
        let mut out = Vec::new();
        write_message(&mut out, &[], b"");
        assert_eq!(out.len(), 16);
        assert_eq!(&out[..8], &[0, 0, 0, 0x10, 0, 0, 0, 0]);
        assert_eq!(&out[8..12], &0x05C2_48EB_u32.to_be_bytes());
        assert_eq!(&out[12..16], &0x7D98_C8FF_u32.to_be_bytes());
    }

    #[test]
    fn payload_chunks_and_invoke_complete_decode_back() {
        let mut out = Vec::new();
        payload_chunk(&mut out, b"hello");
        invoke_complete(&mut out, Some("Unhandled"), Some("boom"), None);
        let first = decode(&out).unwrap();
        let used = first.len;
        assert_eq!(first.payload, b"hello");
        assert_eq!(
            first.headers,
            [
                (":event-type".to_string(), "PayloadChunk".to_string()),
                (":content-type".into(), "application/octet-stream".into()),
                (":message-type".into(), "event".into()),
            ]
        );
        let second = decode(&out[used..]).unwrap();
        assert_eq!(used + second.len, out.len());
        assert_eq!(second.header(":event-type"), Some("InvokeComplete"));
        let body: serde_json::Value = serde_json::from_slice(&second.payload).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"ErrorCode": "Unhandled", "ErrorDetails": "boom"})
        );
        // Any flipped bit is caught by a CRC or a length.
        for i in 0..used {
            let mut bad = out[..used].to_vec();
            bad[i] ^= 0x01;
            assert!(decode(&bad).is_none(), "byte {i}");
        }
    }
}
