//! Reading a Digest `Authorization` value (RFC 3261 §25.1 `credentials`, RFC 7616 §3.4):
//! `Digest name=token-or-quoted-string, name=...`. Lenient about whitespace and the case of
//! names and scheme, strict about quoting, never panics.

use super::AuthFailure;

/// The parameters of a Digest `Authorization`, names lower-cased, values unquoted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestParams {
    params: Vec<(String, String)>,
}

impl DigestParams {
    /// The value of parameter `name` (lower-case), if present.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a parameter that must be present.
    pub fn require(&self, name: &str) -> Result<&str, AuthFailure> {
        self.get(name)
            .ok_or_else(|| AuthFailure::Malformed(format!("no {name}")))
    }
}

/// Parses `Digest username="…", realm="…", …`. A scheme other than Digest is
/// [`AuthFailure::NotDigest`]; broken syntax or a repeated parameter is
/// [`AuthFailure::Malformed`].
pub fn parse_digest(value: &str) -> Result<DigestParams, AuthFailure> {
    let value = value.trim();
    let (scheme, rest) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthFailure::NotDigest(scheme.chars().take(32).collect()));
    }
    let mut params = Vec::new();
    let bytes = rest.as_bytes();
    let mut i = 0;
    let malformed = |what: &str| AuthFailure::Malformed(what.to_string());
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && is_token_char(bytes[i]) {
            i += 1;
        }
        if start == i {
            return Err(malformed("expected a parameter name"));
        }
        let name = rest[start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            return Err(malformed("expected '=' after a parameter name"));
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = if bytes.get(i) == Some(&b'"') {
            i += 1;
            let mut out = Vec::new();
            loop {
                match bytes.get(i) {
                    None => return Err(malformed("unterminated quoted string")),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let escaped = *bytes
                            .get(i + 1)
                            .ok_or_else(|| malformed("dangling escape"))?;
                        out.push(escaped);
                        i += 2;
                    }
                    Some(&b) => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            String::from_utf8(out).map_err(|_| malformed("quoted string is not UTF-8"))?
        } else {
            let start = i;
            while i < bytes.len() && is_token_char(bytes[i]) {
                i += 1;
            }
            if start == i {
                return Err(malformed("empty parameter value"));
            }
            rest[start..i].to_string()
        };
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < bytes.len() && bytes[i] != b',' {
            return Err(malformed("expected ',' between parameters"));
        }
        if params.iter().any(|(n, _)| *n == name) {
            return Err(AuthFailure::Malformed(format!("{name} repeated")));
        }
        params.push((name, value));
    }
    Ok(DigestParams { params })
}

/// RFC 3261 §25.1 `token` characters (plus `/`, `:`, `@`, `=`-free URI bits phones send
/// unquoted, e.g. `algorithm=SHA-256`, `nc=00000001`).
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~' | b'/' | b':'
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_a_typical_phone_header() {
        let p = parse_digest(
            "Digest username=\"1001\",realm=\"centralino\", nonce=\"abc\", \
             uri=\"sip:127.0.0.1:5060\", response=\"0123\", algorithm=MD5, \
             cnonce=\"x y\", qop=auth, nc=00000001",
        )
        .unwrap();
        assert_eq!(p.get("username"), Some("1001"));
        assert_eq!(p.get("uri"), Some("sip:127.0.0.1:5060"));
        assert_eq!(p.get("algorithm"), Some("MD5"));
        assert_eq!(p.get("cnonce"), Some("x y"));
        assert_eq!(p.get("nc"), Some("00000001"));
        assert_eq!(p.get("opaque"), None);
    }

    #[test]
    fn names_and_scheme_are_case_insensitive_and_escapes_are_undone() {
        let p = parse_digest("digest UserName = \"a\\\"b\" , REALM=r").unwrap();
        assert_eq!(p.get("username"), Some("a\"b"));
        assert_eq!(p.get("realm"), Some("r"));
    }

    #[test]
    fn refuses_other_schemes_and_broken_syntax() {
        assert!(matches!(
            parse_digest("Basic dXNlcjpwYXNz"),
            Err(AuthFailure::NotDigest(_))
        ));
        for bad in [
            "Digest username=\"open",
            "Digest username",
            "Digest =x",
            "Digest a=1 b=2",
            "Digest a=1, a=2",
            "Digest a=",
            "Digest a=\"x\\",
        ] {
            assert!(
                matches!(parse_digest(bad), Err(AuthFailure::Malformed(_))),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn never_panics(input in ".{0,200}") {
            let _ = parse_digest(&input);
        }

        #[test]
        fn written_params_read_back(
            values in proptest::collection::vec("[ -~]{0,20}", 1..6)
        ) {
            let header = values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    format!("p{i}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
                })
                .collect::<Vec<_>>()
                .join(", ");
            let parsed = parse_digest(&format!("Digest {header}")).unwrap();
            for (i, v) in values.iter().enumerate() {
                let name = format!("p{i}");
                prop_assert_eq!(parsed.get(&name), Some(v.as_str()));
            }
        }
    }
}
