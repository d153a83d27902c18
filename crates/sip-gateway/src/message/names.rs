//! Header names: compact forms (RFC 3261 §7.3.3 and the IANA "Header Fields" registry) and the
//! canonical spelling of the headers we care about. Header names are case-insensitive
//! (RFC 3261 §7.3.1). And method names, which are not (§7.1).

/// Compact form → full name. RFC 3261 §7.3.3 (`c e f i k l m s t v`), RFC 3265 (`o`, `u`),
/// RFC 3515 (`r`), RFC 3892 (`b`), RFC 4028 (`x`), RFC 3841 (`a`, `j`, `d`), RFC 4474 (`y`, `n`).
const COMPACT: &[(&str, &str)] = &[
    ("a", "Accept-Contact"),
    ("b", "Referred-By"),
    ("c", "Content-Type"),
    ("d", "Request-Disposition"),
    ("e", "Content-Encoding"),
    ("f", "From"),
    ("i", "Call-ID"),
    ("j", "Reject-Contact"),
    ("k", "Supported"),
    ("l", "Content-Length"),
    ("m", "Contact"),
    ("n", "Identity-Info"),
    ("o", "Event"),
    ("r", "Refer-To"),
    ("s", "Subject"),
    ("t", "To"),
    ("u", "Allow-Events"),
    ("v", "Via"),
    ("x", "Session-Expires"),
    ("y", "Identity"),
];

/// Full names whose spelling we canonicalise (so that serialised output looks conventional).
const CANONICAL: &[&str] = &[
    "Accept",
    "Accept-Contact",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Allow-Events",
    "Authentication-Info",
    "Authorization",
    "Call-ID",
    "Call-Info",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Date",
    "Error-Info",
    "Event",
    "Expires",
    "From",
    "Identity",
    "Identity-Info",
    "In-Reply-To",
    "Max-Forwards",
    "MIME-Version",
    "Min-Expires",
    "Min-SE",
    "Organization",
    "P-Asserted-Identity",
    "Path",
    "Priority",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "RAck",
    "Reason",
    "Record-Route",
    "Refer-To",
    "Referred-By",
    "Reject-Contact",
    "Reply-To",
    "Request-Disposition",
    "Require",
    "Retry-After",
    "Route",
    "RSeq",
    "Server",
    "Session-Expires",
    "Subject",
    "Subscription-State",
    "Supported",
    "Timestamp",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "Warning",
    "WWW-Authenticate",
];

/// The canonical name for a header name as received: compact forms expanded, known names in
/// their conventional spelling, anything else `None` (keep it as written).
pub(crate) fn canonical(name: &str) -> Option<&'static str> {
    if name.len() == 1 {
        return COMPACT
            .iter()
            .find(|(short, _)| short.eq_ignore_ascii_case(name))
            .map(|(_, full)| *full);
    }
    CANONICAL
        .iter()
        .find(|full| full.eq_ignore_ascii_case(name))
        .copied()
}

/// Whether a received header name (full or compact, any case) denotes `full`.
pub(crate) fn is(name: &str, full: &str) -> bool {
    match canonical(name) {
        Some(c) => c.eq_ignore_ascii_case(full),
        None => name.eq_ignore_ascii_case(full),
    }
}

/// The methods `rsip` 0.4 can represent, spelt as on the wire (methods are case-sensitive,
/// RFC 3261 §7.1).
pub(crate) fn known_method(method: &str) -> Option<rsip::Method> {
    rsip::Method::all()
        .into_iter()
        .find(|m| m.to_string() == method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_compact_form_expands() {
        for (short, full) in COMPACT {
            assert_eq!(canonical(short), Some(*full));
            assert_eq!(canonical(&short.to_uppercase()), Some(*full));
        }
        assert_eq!(canonical("call-id"), Some("Call-ID"));
        assert_eq!(canonical("MaX-fOrWaRdS"), Some("Max-Forwards"));
        assert_eq!(canonical("X-Custom"), None);
        assert_eq!(canonical("z"), None);
        assert!(is("l", "Content-Length"));
        assert!(is("CONTENT-LENGTH", "Content-Length"));
    }
}
