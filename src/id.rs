//! Identifiers: a small PRNG of our own and the UUID v4 strings Lambda uses as request ids.
//!
//! The generator is xoshiro256** seeded through splitmix64: fast, well distributed, and
//! reproducible from `--seed N`. It is not cryptographic and needs not be: ids only have to be
//! unique within a run and look like AWS's.

use std::fmt;

/// xoshiro256** (Blackman and Vigna, public domain), seeded with splitmix64.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator whose whole sequence is fixed by `seed`.
    #[inline(never)]
    pub fn from_seed(seed: u64) -> Rng {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A random (version 4, RFC 9562 variant) UUID in its 36-character text form.
    pub fn uuid_v4(&mut self) -> Uuid {
        // The 16 bytes are the two words, big-endian: byte 6 is bits 15..8 of the first, byte
        // 8 the top of the second.
        let high = (self.next_u64() & !0xf000) | 0x4000; // version 4
        let low = (self.next_u64() & !(0xc0 << 56)) | (0x80 << 56); // variant 10xx
        let (high, low) = (hex16(high), hex16(low));
        let mut text = [b'-'; 36];
        text[..8].copy_from_slice(&high[..8]);
        text[9..13].copy_from_slice(&high[8..12]);
        text[14..18].copy_from_slice(&high[12..]);
        text[19..23].copy_from_slice(&low[..4]);
        text[24..].copy_from_slice(&low[4..]);
        Uuid(text)
    }

    /// Fills `out` (up to 32 bytes of it) with random lowercase hex digits.
    pub fn hex_into(&mut self, out: &mut [u8]) {
        let mut bits = [self.next_u64(), self.next_u64()];
        for (i, byte) in out.iter_mut().take(32).enumerate() {
            let word = &mut bits[i / 16];
            *byte = HEX[(*word & 0xf) as usize];
            *word >>= 4;
        }
    }

    /// `Root=1-<epoch secs>-<24 hex>;Parent=<16 hex>;Sampled=0`, the X-Ray header Lambda
    /// generates for an untraced invocation, built inline.
    pub fn trace_id(&mut self, epoch_secs: u64) -> TraceId {
        let mut text =
            *b"Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0";
        for (i, byte) in text[7..15].iter_mut().enumerate() {
            *byte = HEX[((epoch_secs >> (4 * (7 - i))) & 0xf) as usize];
        }
        self.hex_into(&mut text[16..40]);
        self.hex_into(&mut text[48..64]);
        TraceId(Trace::Generated(text))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `word` in lowercase hex, most significant digit first: each half's nibbles spread one to a
/// byte, then turned into digits all at once (a request id or an event id per extension per
/// invocation is made this way).
fn hex16(word: u64) -> [u8; 16] {
    let digits = |half: u32| -> [u8; 8] {
        let mut x = half as u64;
        x = ((x & 0xffff_0000) << 16) | (x & 0xffff);
        x = ((x & 0x0000_ff00_0000_ff00) << 8) | (x & 0x0000_00ff_0000_00ff);
        x = ((x & 0x00f0_00f0_00f0_00f0) << 4) | (x & 0x000f_000f_000f_000f);
        // One byte a nibble, 0 to 15: '0' + n, and 39 more ('a' - '0' - 10) from 10 up.
        let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
        (x + 0x3030_3030_3030_3030 + letters * 39).to_be_bytes()
    };
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&digits((word >> 32) as u32));
    out[8..].copy_from_slice(&digits(word as u32));
    out
}

/// A UUID in text form (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`), stored inline so that ids are
/// `Copy` and cost no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uuid([u8; 36]);

impl Uuid {
    /// The text form.
    #[inline(never)]
    pub fn as_str(&self) -> &str {
        // Built only from ASCII hex digits and dashes, in `uuid_v4` or `parse`.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The text form's bytes, for a header (no UTF-8 check).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Accepts any UUID in canonical text form (any version, either case), as rapid's
    /// `uuid.Parse` does for extension identifiers.
    pub fn parse(text: &str) -> Option<Uuid> {
        Uuid::parse_bytes(text.as_bytes())
    }

    /// [`Uuid::parse`] of bytes: a request path's, with no UTF-8 check first.
    #[inline(never)]
    pub fn parse_bytes(bytes: &[u8]) -> Option<Uuid> {
        let bytes: &[u8; 36] = bytes.try_into().ok()?;
        // 32 hex digits and 4 dashes, the dashes where they belong. Counted with no early exit,
        // so that the count runs many bytes at a time: every request after an extension's
        // registration carries one.
        let (hex, dashes) = bytes.iter().fold((0u8, 0u8), |(hex, dashes), b| {
            (
                hex + b.is_ascii_hexdigit() as u8,
                dashes + (*b == b'-') as u8,
            )
        });
        let placed = [8, 13, 18, 23].iter().all(|&i| bytes[i] == b'-');
        (hex == 32 && dashes == 4 && placed).then_some(Uuid(*bytes))
    }
}

impl fmt::Display for Uuid {
    // Formatted from many places: one copy.
    #[inline(never)]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({})", self.as_str())
    }
}

/// The request id of an invocation (`Lambda-Runtime-Aws-Request-Id`, `X-Amzn-RequestId`).
pub type RequestId = Uuid;

/// Length of a trace header Lambda generates.
const GENERATED_TRACE_LEN: usize = 74;

/// An invocation's X-Ray trace header: one the core generated, stored inline, or the invoker's.
#[derive(Clone, PartialEq, Eq)]
pub struct TraceId(Trace);

#[derive(Clone, PartialEq, Eq)]
enum Trace {
    Generated([u8; GENERATED_TRACE_LEN]),
    Given(Box<str>),
}

impl TraceId {
    /// The invoker's trace header, as given.
    pub fn given(header: &str) -> TraceId {
        TraceId(Trace::Given(header.into()))
    }

    /// The header's bytes (no UTF-8 check).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Trace::Generated(text) => text,
            Trace::Given(text) => text.as_bytes(),
        }
    }

    /// The header's text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // ASCII by construction.
            Trace::Generated(text) => std::str::from_utf8(text).unwrap_or_default(),
            Trace::Given(text) => text,
        }
    }
}

impl From<String> for TraceId {
    /// The invoker's trace header, taken as given.
    fn from(header: String) -> TraceId {
        TraceId(Trace::Given(header.into_boxed_str()))
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({:?})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_v4_and_reproducible() {
        let mut a = Rng::from_seed(7);
        let mut b = Rng::from_seed(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let id = a.uuid_v4();
            assert_eq!(id, b.uuid_v4());
            let s = id.as_str();
            assert_eq!(s.len(), 36);
            assert_eq!(&s[14..15], "4", "{s}");
            assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"), "{s}");
            assert_eq!(Uuid::parse(s), Some(id));
            assert!(seen.insert(id));
        }
        assert_ne!(Rng::from_seed(1).uuid_v4(), Rng::from_seed(2).uuid_v4());
    }

    #[test]
    fn uuids_are_the_rngs_bytes_in_hex() {
        // The plain way: sixteen bytes, two digits each, dashes after bytes 4, 6, 8 and 10.
        let plain = |rng: &mut Rng| {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
            bytes[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
            bytes[6] = (bytes[6] & 0x0f) | 0x40;
            bytes[8] = (bytes[8] & 0x3f) | 0x80;
            let mut text = String::new();
            for (i, b) in bytes.iter().enumerate() {
                if matches!(i, 4 | 6 | 8 | 10) {
                    text.push('-');
                }
                text.push_str(&format!("{b:02x}"));
            }
            text
        };
        for seed in 0..200 {
            let (mut a, mut b) = (Rng::from_seed(seed), Rng::from_seed(seed));
            for _ in 0..20 {
                assert_eq!(a.uuid_v4().as_str(), plain(&mut b));
            }
        }
        for word in [0, u64::MAX, 0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210] {
            assert_eq!(hex16(word), *format!("{word:016x}").as_bytes());
        }
    }

    #[test]
    fn parse_rejects_non_uuids() {
        assert!(Uuid::parse("").is_none());
        assert!(Uuid::parse("8f5e2d1c-0000-4000-8000-00000000000g").is_none());
        assert!(Uuid::parse("8f5e2d1c00000-4000-8000-000000000000").is_none());
        assert!(Uuid::parse("8F5E2D1C-0000-4000-8000-000000000000").is_some());
        // Four dashes and 32 digits, a dash out of place.
        assert!(Uuid::parse("8f5e2d1-c0000-4000-8000-000000000000").is_none());
        // Five dashes.
        assert!(Uuid::parse("8f5e2d1c-0000-4000-8000-00000000000-").is_none());
        // Not ASCII, 36 bytes.
        assert!(Uuid::parse_bytes(b"8f5e2d1c-0000-4000-8000-0000000000\xc3\xa9").is_none());
        assert!(Uuid::parse("8f5e2d1c-0000-4000-8000-000000000000 ").is_none());
    }

    #[test]
    fn hex_digits() {
        let mut rng = Rng::from_seed(3);
        let mut s = [0u8; 24];
        rng.hex_into(&mut s);
        assert!(
            s.iter()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn generated_trace_ids_have_lambdas_shape() {
        let t = Rng::from_seed(3).trace_id(0x5bef_4de7);
        let t = t.as_str();
        assert!(t.starts_with("Root=1-5bef4de7-"), "{t}");
        assert_eq!(&t[40..48], ";Parent=");
        assert!(t.ends_with(";Sampled=0"));
        assert!(t[16..40].bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(t[48..64].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(Rng::from_seed(4).trace_id(0x5bef_4de7).as_str(), t);
    }
}
