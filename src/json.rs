//! A JSON validator (RFC 8259) that allocates nothing: the Invoke API refuses payloads that are
//! not JSON, and checking every payload must not cost a parse tree.

use std::fmt;

/// Nesting deeper than this is refused, as serde_json refuses past 128.
pub(crate) const MAX_DEPTH: usize = 128;

/// Why a document is not JSON, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct JsonError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.offset)
    }
}

/// Checks that `input` is exactly one JSON value, surrounded by optional whitespace.
pub(crate) fn validate(input: &[u8]) -> Result<(), JsonError> {
    let mut p = Parser { input, at: 0 };
    p.ws();
    p.value(0)?;
    p.ws();
    if p.at != input.len() {
        return Err(p.error("trailing characters after the JSON value"));
    }
    Ok(())
}

struct Parser<'a> {
    input: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> JsonError {
        JsonError {
            offset: self.at,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.at).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a JSON value")),
            None => Err(self.error("unexpected end of input")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), JsonError> {
        self.at += 1;
        self.ws();
        if self.eat(b'}') {
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            self.string()?;
            self.ws();
            if !self.eat(b':') {
                return Err(self.error("expected ':'"));
            }
            self.ws();
            self.value(depth + 1)?;
            self.ws();
            if self.eat(b'}') {
                return Ok(());
            }
            if !self.eat(b',') {
                return Err(self.error("expected ',' or '}'"));
            }
            self.ws();
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), JsonError> {
        self.at += 1;
        self.ws();
        if self.eat(b']') {
            return Ok(());
        }
        loop {
            self.value(depth + 1)?;
            self.ws();
            if self.eat(b']') {
                return Ok(());
            }
            if !self.eat(b',') {
                return Err(self.error("expected ',' or ']'"));
            }
            self.ws();
        }
    }

    fn string(&mut self) -> Result<(), JsonError> {
        self.at += 1;
        let start = self.at;
        // An ASCII string needs no UTF-8 check.
        let mut ascii = true;
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.at += 1
                        }
                        Some(b'u') => {
                            let unit = self.hex4()?;
                            if (0xDC00..0xE000).contains(&unit) {
                                return Err(self.error("lone trailing surrogate"));
                            }
                            if (0xD800..0xDC00).contains(&unit) {
                                if !(self.eat(b'\\') && self.peek() == Some(b'u')) {
                                    return Err(self.error("lone leading surrogate"));
                                }
                                if !(0xDC00..0xE000).contains(&self.hex4()?) {
                                    return Err(self.error("invalid surrogate pair"));
                                }
                            }
                        }
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                Some(0..=0x1f) => return Err(self.error("control character in string")),
                Some(b) => {
                    ascii &= b.is_ascii();
                    self.at += 1;
                }
            }
        }
        if !ascii && std::str::from_utf8(&self.input[start..self.at]).is_err() {
            return Err(JsonError {
                offset: start,
                reason: "invalid UTF-8 in string",
            });
        }
        self.at += 1;
        Ok(())
    }

    /// Reads `u` and four hex digits, returning the code unit.
    fn hex4(&mut self) -> Result<u16, JsonError> {
        self.at += 1; // the 'u'
        let digits = self.input.get(self.at..self.at + 4);
        let unit = digits
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u16::from_str_radix(d, 16).ok())
            .filter(|_| digits.is_some_and(|d| d.iter().all(u8::is_ascii_hexdigit)))
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        self.at += 4;
        Ok(unit)
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), JsonError> {
        if self.input[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<(), JsonError> {
        self.eat(b'-');
        if self.eat(b'0') {
            if let Some(b'0'..=b'9') = self.peek() {
                return Err(self.error("leading zero in number"));
            }
        } else if self.digits() == 0 {
            return Err(self.error("expected digits"));
        }
        if self.eat(b'.') && self.digits() == 0 {
            return Err(self.error("expected digits after '.'"));
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return Err(self.error("expected exponent digits"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_serde_json_accepts() {
        let samples: &[&str] = &[
            "{}",
            "[]",
            "0",
            "-0.5e+3",
            "1E9",
            "\"a\\u00e9\\n\"",
            "true",
            "null",
            " {\"a\":[1,2,{\"b\":null}]} ",
            "\"héllo\"",
            "[1,",
            "{\"a\" 1}",
            "01",
            "1.",
            "-",
            "\"\u{1}\"",
            "tru",
            "{} x",
            "",
            "[1,]",
            "{\"a\":1,}",
            "\"\\x\"",
            "1e",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud83d\\ude00\"",
            "\"\\ud83d\\u0041\"",
            "[[[[[]]]]]",
            "\"\\u12\"",
        ];
        for s in samples {
            let ours = validate(s.as_bytes()).is_ok();
            let theirs = serde_json::from_str::<serde_json::Value>(s).is_ok();
            assert_eq!(ours, theirs, "{s:?}");
        }
    }

    #[test]
    fn refuses_invalid_utf8_and_deep_nesting() {
        assert!(validate(b"\"\xff\"").is_err());
        // A sequence cut short after ASCII; and well-formed UTF-8 beyond ASCII.
        assert!(validate(b"{\"k\":\"ok \xc3\"}").is_err());
        assert!(validate("{\"k\":\"é 😀\"}".as_bytes()).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(
            validate(deep.as_bytes()).map_err(|e| e.reason),
            Err("nesting too deep")
        );
        let ok = "[".repeat(100) + &"]".repeat(100);
        assert!(validate(ok.as_bytes()).is_ok());
    }
}
