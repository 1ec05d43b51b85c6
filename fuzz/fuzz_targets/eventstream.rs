//! The event-stream encoder: what it writes decodes to what it was given, every strict prefix
//! of a message is incomplete, one flipped bit anywhere is caught by a CRC, and the decoder
//! never panics on arbitrary bytes.
#![no_main]

use arbitrary::Arbitrary;
use lambda_sim::internals::api::eventstream::{decode, write_message};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Header names (at most 255 bytes, as the format allows) and values (at most 64 KiB).
    headers: Vec<(String, String)>,
    payload: Vec<u8>,
    /// Which bit to flip, modulo the message's length.
    flip: u32,
    /// Bytes the decoder gets as they are.
    junk: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let _ = decode(&input.junk);
    let headers: Vec<(String, String)> = input
        .headers
        .into_iter()
        .filter(|(n, v)| n.len() <= 255 && v.len() <= usize::from(u16::MAX))
        .collect();
    let borrowed: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut out = Vec::new();
    write_message(&mut out, &borrowed, &input.payload);
    let message = decode(&out).expect("what the encoder wrote decodes");
    assert_eq!(message.headers, headers);
    assert_eq!(message.payload, input.payload);
    assert_eq!(message.len, out.len());
    // Followed by more bytes, it still decodes alone.
    let mut longer = out.clone();
    longer.extend_from_slice(&input.junk);
    assert_eq!(decode(&longer).map(|m| m.len), Some(out.len()));
    for cut in [0, 1, 11, 12, out.len() / 2, out.len() - 1] {
        assert!(
            decode(&out[..cut.min(out.len() - 1)]).is_none(),
            "a prefix of {cut} decoded"
        );
    }
    let bit = input.flip as usize % (out.len() * 8);
    out[bit / 8] ^= 1 << (bit % 8);
    assert!(decode(&out).is_none(), "bit {bit} flipped went unnoticed");
});
