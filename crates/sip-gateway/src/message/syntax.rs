//! Small lexical helpers for SIP header values (RFC 3261 §25.1): tokens, quoted strings,
//! comma-separated lists, name-addr / addr-spec with header parameters.
//!
//! Everything here works on already unfolded values (no CR or LF left) and never panics: all
//! slicing happens at indices produced by `char_indices`.

/// `token` characters (RFC 3261 §25.1): alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" /
/// "`" / "'" / "~".
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// ASCII case-insensitive prefix test (safe on any UTF-8 boundary).
pub(crate) fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// SP or HTAB (RFC 3261 §25.1 `WSP`).
pub(crate) fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Characters allowed in an unquoted generic-param value: `token / host` (RFC 3261 §25.1
/// `gen-value`), where host may be an IPv6 reference or a bare IPv6 address (`received`).
fn is_param_value_byte(b: u8) -> bool {
    is_token_byte(b) || b == b':' || b == b'[' || b == b']'
}

/// Splits a header value at the commas that separate list elements (RFC 3261 §7.3.1): commas
/// inside quoted strings and inside `<...>` are not separators. Elements are trimmed. Fails on
/// an unterminated quoted string or `<`.
pub(crate) fn split_list(value: &str) -> Result<Vec<&str>, &'static str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut in_angle = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
            continue;
        }
        match c {
            '"' if !in_angle => in_quotes = true,
            '<' if !in_angle => in_angle = true,
            '>' if in_angle => in_angle = false,
            ',' if !in_angle => {
                out.push(value[start..i].trim_matches(is_wsp));
                start = i + 1;
            }
            _ => {}
        }
    }
    if in_quotes {
        return Err("unterminated quoted string");
    }
    if in_angle {
        return Err("unterminated '<'");
    }
    out.push(value[start..].trim_matches(is_wsp));
    Ok(out)
}

/// Whether the value has a comma outside quoted strings and `<...>` (a list where a single
/// value is required).
pub(crate) fn has_top_level_comma(value: &str) -> bool {
    matches!(split_list(value), Ok(parts) if parts.len() > 1)
}

/// Canonical whitespace for a name-addr / addr-spec with parameters (RFC 3261 §20.10, §25.1):
/// runs of LWS outside quotes become one SP, and disappear around `;` and `=` (the `SEMI` and
/// `EQUAL` rules allow LWS on both sides). Quoted strings are copied verbatim. Whitespace inside
/// `<...>` is an error (RFC 4475 §3.1.2.14).
pub(crate) fn normalize_name_addr(value: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(value.len());
    let mut in_quotes = false;
    let mut in_angle = false;
    let mut escaped = false;
    let mut pending_space = false;
    for c in value.chars() {
        if in_quotes {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
            continue;
        }
        if is_wsp(c) {
            if in_angle {
                return Err("whitespace inside <...>");
            }
            pending_space = true;
            continue;
        }
        if pending_space {
            pending_space = false;
            let glue = out.ends_with(';') || out.ends_with('=') || c == ';' || c == '=';
            if !out.is_empty() && !glue {
                out.push(' ');
            }
        }
        match c {
            '"' if !in_angle => in_quotes = true,
            '<' if !in_angle => in_angle = true,
            '>' if in_angle => in_angle = false,
            _ => {}
        }
        out.push(c);
    }
    if in_quotes {
        return Err("unterminated quoted string");
    }
    if in_angle {
        return Err("unterminated '<'");
    }
    Ok(out)
}

/// Length in bytes of the quoted string at the start of `s` (which must start with `"`),
/// including both quotes; `None` if unterminated.
pub(crate) fn quoted_len(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return Some(i + 1);
        }
    }
    None
}

/// Whether `uri` starts with a URI scheme followed by `:` and something (RFC 3986 §3.1).
pub(crate) fn has_scheme(uri: &str) -> bool {
    match uri.split_once(':') {
        Some((scheme, rest)) => {
            let mut bytes = scheme.bytes();
            matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
                && bytes.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                && !rest.is_empty()
        }
        None => false,
    }
}

/// The parts of a normalised name-addr or addr-spec (RFC 3261 §20.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameAddr<'a> {
    /// Display name as written (quoted or not), empty if absent.
    pub display: &'a str,
    /// The URI, without angle brackets.
    pub uri: &'a str,
    /// Header parameters, starting with `;` (or empty).
    pub params: &'a str,
}

/// Splits a value normalised by [`normalize_name_addr`] into display name, URI and parameters,
/// validating it: balanced quotes, one `<...>`, a URI scheme, a display name without list
/// separators (RFC 4475 §3.1.2.15), an addr-spec without `?` or `,` (RFC 3261 §20.10,
/// RFC 4475 §3.1.2.13) and well-formed parameters.
pub(crate) fn parse_name_addr(value: &str) -> Result<NameAddr<'_>, &'static str> {
    let angle = find_top_level(value, '<');
    let parsed = match angle {
        Some(open) => {
            let display = value[..open].trim_matches(is_wsp);
            let rest = &value[open + 1..];
            let close = rest.find('>').ok_or("unterminated '<'")?;
            let uri = &rest[..close];
            let params = &rest[close + 1..];
            check_display_name(display)?;
            NameAddr {
                display,
                uri,
                params,
            }
        }
        None => {
            if value.starts_with('"') {
                return Err("display name without <URI>");
            }
            let end = value.find(';').unwrap_or(value.len());
            let uri = &value[..end];
            if uri.contains(['?', ',', '"', ' ', '\t', '>']) {
                return Err("URI with '?', ',' or spaces must be enclosed in <>");
            }
            NameAddr {
                display: "",
                uri,
                params: &value[end..],
            }
        }
    };
    if !has_scheme(parsed.uri) {
        return Err("URI without scheme");
    }
    check_params(parsed.params)?;
    Ok(parsed)
}

fn find_top_level(value: &str, needle: char) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
        } else if c == '"' {
            in_quotes = true;
        } else if c == needle {
            return Some(i);
        }
    }
    None
}

/// A display name is empty, one quoted string, or unquoted words. Unquoted words should be
/// tokens (RFC 3261 §25.1); real peers send UTF-8 there, so only the characters that make the
/// value ambiguous (`,`, `;`, `"`, `<`, `>`) are refused.
fn check_display_name(display: &str) -> Result<(), &'static str> {
    if display.is_empty() {
        return Ok(());
    }
    if display.starts_with('"') {
        return match quoted_len(display) {
            Some(len) if len == display.len() => Ok(()),
            _ => Err("malformed quoted display name"),
        };
    }
    if display.contains([',', ';', '"', '<', '>']) || display.chars().any(char::is_control) {
        return Err("display name with non-token characters must be quoted");
    }
    Ok(())
}

/// Checks `*( SEMI generic-param )` (RFC 3261 §25.1) on an LWS-normalised string.
pub(crate) fn check_params(params: &str) -> Result<(), &'static str> {
    for param in iter_params(params)? {
        let (name, value) = param;
        if !is_token(name) {
            return Err("malformed parameter name");
        }
        if let Some(value) = value {
            let quoted = value.starts_with('"') && quoted_len(value) == Some(value.len());
            if !quoted && (value.is_empty() || !value.bytes().all(is_param_value_byte)) {
                return Err("malformed parameter value");
            }
        }
    }
    Ok(())
}

/// Iterates `;name[=value]` parameters (quoted values may contain `;`). `params` must be empty
/// or start with `;`.
pub(crate) fn iter_params(params: &str) -> Result<Vec<(&str, Option<&str>)>, &'static str> {
    let mut out = Vec::new();
    let mut rest = params;
    while !rest.is_empty() {
        rest = rest
            .strip_prefix(';')
            .ok_or("parameters must start with ';'")?;
        let end = param_end(rest).ok_or("unterminated quoted string")?;
        let param = &rest[..end];
        rest = &rest[end..];
        match param.split_once('=') {
            Some((name, value)) => out.push((name, Some(value))),
            None => out.push((param, None)),
        }
    }
    Ok(out)
}

/// Index of the next `;` outside quotes (or the end).
fn param_end(s: &str) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
        } else if c == '"' {
            in_quotes = true;
        } else if c == ';' {
            return Some(i);
        }
    }
    (!in_quotes).then_some(s.len())
}

/// A header parameter (e.g. `tag`) of a From/To/Contact value, matched case-insensitively
/// (RFC 3261 §7.3.1). Works on raw values too (LWS is normalised first). `Some(None)` means
/// the parameter is present without a value.
pub(crate) fn header_param(value: &str, name: &str) -> Option<Option<String>> {
    let normalized = normalize_name_addr(value.trim_matches(is_wsp)).ok()?;
    let parsed = parse_name_addr(&normalized).ok()?;
    let params = iter_params(parsed.params).ok()?;
    params
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.map(str::to_owned))
}

/// Replaces control characters (CR and LF included) with spaces: for text copied into headers
/// we generate.
pub(crate) fn sanitize_header_text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
        .collect::<String>()
        .trim_matches(is_wsp)
        .to_owned()
}

/// Printable ASCII only, trimmed, at most `max` characters: for reason phrases we generate.
pub(crate) fn ascii_phrase(s: &str, max: usize) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
        .collect();
    let mut phrase = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    phrase.truncate(max);
    phrase.trim_end().to_owned()
}

/// A short printable excerpt of untrusted text, for error details and logs.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    let mut out: String = s.chars().take(MAX).flat_map(char::escape_debug).collect();
    if s.chars().count() > MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_split_respects_quotes_and_angle_brackets() {
        let value = r#""Doe, John" <sip:a@b;x=1,2>;q=0.5, <sip:c@d>,sip:e@f"#;
        assert_eq!(
            split_list(value).unwrap(),
            vec![
                r#""Doe, John" <sip:a@b;x=1,2>;q=0.5"#,
                "<sip:c@d>",
                "sip:e@f"
            ]
        );
        assert!(split_list(r#""unterminated, <sip:a@b>"#).is_err());
        assert_eq!(
            split_list(r#""esc \" , still quoted" <sip:a@b>"#)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn name_addr_whitespace_is_canonical() {
        let raw = r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ;   tag = 98asjd8"#;
        assert_eq!(
            normalize_name_addr(raw).unwrap(),
            r#""J Rosenberg \\\"" <sip:jdrosen@example.com>;tag=98asjd8"#
        );
        assert_eq!(
            normalize_name_addr("sip:a@b ;   tag    = 1918181833n").unwrap(),
            "sip:a@b;tag=1918181833n"
        );
        assert!(normalize_name_addr("< sip:a@b >").is_err());
    }

    #[test]
    fn name_addr_validation() {
        assert!(parse_name_addr("caller<sip:caller@example.com>;tag=323").is_ok());
        assert!(parse_name_addr("Bell, Alexander <sip:a@b>").is_err());
        assert!(parse_name_addr("sip:user@example.com?Route=%3Csip:x%3E").is_err());
        assert!(parse_name_addr(r#""Mr. J. User <sip:j.user@example.com>"#).is_err());
        assert!(parse_name_addr("<sip:joe@example.org>;;;;").is_err());
        let parsed = parse_name_addr(r#""A" <sip:a@b;lr>;tag=x;p="q;r""#).unwrap();
        assert_eq!(parsed.uri, "sip:a@b;lr");
        assert_eq!(parsed.params, r#";tag=x;p="q;r""#);
    }

    #[test]
    fn header_param_finds_tags() {
        assert_eq!(
            header_param("<sip:a@b;tag=uri>;TAG=hdr", "tag"),
            Some(Some("hdr".into()))
        );
        assert_eq!(header_param("sip:a@b;tag=x", "tag"), Some(Some("x".into())));
        assert_eq!(header_param("<sip:a@b;tag=uri>", "tag"), None);
        assert_eq!(header_param("<sip:a@b>;lr", "lr"), Some(None));
    }

    #[test]
    fn phrases_are_ascii_and_bounded() {
        assert_eq!(ascii_phrase("Bad\r\nRequest\u{7}é", 100), "Bad Request");
        assert_eq!(ascii_phrase(&"x".repeat(200), 100).len(), 100);
    }
}
