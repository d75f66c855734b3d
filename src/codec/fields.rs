//! Field syntax shared by the request writer and the response reader (RFC 9110 §5).
//!
//! - tokens (`tchar`, §5.6.2), which header names must be;
//! - field-value bytes (§5.5);
//! - comma-separated lists (§5.6.1), as used by `Connection`, `Transfer-Encoding` and (in
//!   practice) `Content-Length`.

use http::header::GetAll;
use http::HeaderValue;

/// Whether `b` is a `tchar`: `!#$%&'*+-.^_`|~`, digits and letters.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `bytes` is a non-empty token.
pub(crate) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b))
}

/// Whether `bytes` may be sent as a field value: HTAB, SP, visible ASCII and obs-text. This
/// rejects CR, LF and NUL (which would split or truncate the header line) and every other
/// control byte, like Go's `httpguts.ValidHeaderFieldValue`.
pub(crate) fn is_field_value(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
}

/// `bytes` without leading and trailing optional whitespace (SP, HTAB).
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// The elements of one list-valued field line, split at `,` and trimmed of OWS. Empty elements
/// are yielded too (as empty slices); callers decide whether they matter.
pub(crate) fn elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

/// Whether any line of a list-valued field has `token` as an element (ASCII case-insensitive).
pub(crate) fn has_token(values: GetAll<'_, HeaderValue>, token: &str) -> bool {
    values
        .iter()
        .any(|v| elements(v.as_bytes()).any(|e| e.eq_ignore_ascii_case(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test; // there, run by wasm-bindgen-test in node

    #[test]
    fn tokens() {
        assert!(is_token(b"X-Custom_1.2~"));
        assert!(!is_token(b""));
        for bad in [
            &b"a b"[..],
            b"a:b",
            b"a\r",
            b"\x00",
            b"a\"",
            b"(",
            b"\xc3\xa9",
        ] {
            assert!(!is_token(bad), "{:?}", bad.escape_ascii().to_string());
        }
    }

    #[test]
    fn field_values() {
        assert!(is_field_value(b"a b\tc \xff"));
        assert!(is_field_value(b""));
        for bad in [&b"a\rb"[..], b"a\nb", b"a\0b", b"\x7f", b"\x01"] {
            assert!(!is_field_value(bad));
        }
    }

    #[test]
    fn lists() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b" \t "), b"");
        let got: Vec<&[u8]> = elements(b" a ,b,, c").collect();
        assert_eq!(got, vec![&b"a"[..], b"b", b"", b"c"]);

        let mut map = HeaderMap::new();
        map.append("connection", HeaderValue::from_static("keep-alive"));
        map.append("connection", HeaderValue::from_static("Upgrade, CLOSE"));
        assert!(has_token(map.get_all("connection"), "close"));
        assert!(has_token(map.get_all("connection"), "keep-alive"));
        assert!(!has_token(map.get_all("connection"), "clo"));
        assert!(!has_token(map.get_all("te"), "close"));
    }
}
