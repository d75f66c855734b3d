//! Unit tests of `request.rs`.

use super::*;
use http::HeaderValue;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test; // there, run by wasm-bindgen-test in node

/// Writes a head after some existing bytes, checks they are untouched, returns the head.
fn head(
    method: Method,
    uri: &str,
    version: Version,
    headers: &HeaderMap,
    body: BodyLength,
    keep_alive: bool,
) -> Result<(String, RequestInfo), RequestError> {
    let uri: Uri = uri.parse().unwrap();
    let mut out = b"previous".to_vec();
    let result = write_request_head(&method, &uri, version, headers, body, keep_alive, &mut out);
    assert_eq!(&out[..8], b"previous");
    match result {
        Ok(info) => Ok((String::from_utf8(out[8..].to_vec()).unwrap(), info)),
        Err(e) => {
            assert_eq!(out, b"previous", "out must be unchanged on error");
            Err(e)
        }
    }
}

/// A GET with keep-alive and no headers.
fn get(uri: &str) -> Result<String, RequestError> {
    let none = HeaderMap::new();
    head(
        Method::GET,
        uri,
        Version::HTTP_11,
        &none,
        BodyLength::Empty,
        true,
    )
    .map(|(h, _)| h)
}

fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

const REUSE: RequestInfo = RequestInfo {
    wants_close: false,
    is_head: false,
    expects_continue: false,
    upgrade: false,
};

#[test]
fn get_minimal() {
    let none = HeaderMap::new();
    let (h, info) = head(
        Method::GET,
        "http://example.com/a/b?c=d&e",
        Version::HTTP_11,
        &none,
        BodyLength::Empty,
        true,
    )
    .unwrap();
    assert_eq!(h, "GET /a/b?c=d&e HTTP/1.1\r\nhost: example.com\r\n\r\n");
    assert_eq!(info, REUSE);
}

#[test]
fn origin_form_defaults() {
    assert_eq!(
        get("http://example.com").unwrap(),
        "GET / HTTP/1.1\r\nhost: example.com\r\n\r\n"
    );
    assert_eq!(
        get("http://example.com?x=1").unwrap(),
        "GET /?x=1 HTTP/1.1\r\nhost: example.com\r\n\r\n"
    );
    assert_eq!(
        get("http://example.com/p#fragment").unwrap(),
        "GET /p HTTP/1.1\r\nhost: example.com\r\n\r\n"
    );
}

#[test]
fn host_from_uri() {
    let cases = [
        ("http://example.com:80/", "example.com"),
        ("http://Example.COM:8080/", "Example.COM:8080"),
        ("http://example.com:/", "example.com"),
        ("http://[::1]/", "[::1]"),
        ("http://[::1]:8080/", "[::1]:8080"),
        ("http://[fe80::1%25eth0]:81/", "[fe80::1]:81"),
        ("http://user:secret@example.com/", "example.com"),
        ("http://127.0.0.1:1/", "127.0.0.1:1"),
    ];
    for (uri, host) in cases {
        assert_eq!(
            get(uri).unwrap(),
            format!("GET / HTTP/1.1\r\nhost: {host}\r\n\r\n"),
            "{uri}"
        );
    }
}

#[test]
fn head_request() {
    let none = HeaderMap::new();
    let (h, info) = head(
        Method::HEAD,
        "http://h/",
        Version::HTTP_11,
        &none,
        BodyLength::Empty,
        true,
    )
    .unwrap();
    assert_eq!(h, "HEAD / HTTP/1.1\r\nhost: h\r\n\r\n");
    assert_eq!(
        info,
        RequestInfo {
            is_head: true,
            ..REUSE
        }
    );
}

#[test]
fn post_known_length_and_caller_headers() {
    let headers = map(&[
        ("content-type", "text/plain"),
        ("x-multi", "1"),
        ("x-multi", "2"),
        ("content-length", "999"),
        ("transfer-encoding", "gzip"),
        ("accept", "*/*"),
    ]);
    let (h, info) = head(
        Method::POST,
        "http://h/u",
        Version::HTTP_11,
        &headers,
        BodyLength::Known(5),
        true,
    )
    .unwrap();
    assert_eq!(
        h,
        "POST /u HTTP/1.1\r\nhost: h\r\ncontent-type: text/plain\r\nx-multi: 1\r\nx-multi: 2\r\n\
         accept: */*\r\ncontent-length: 5\r\n\r\n"
    );
    assert_eq!(info, REUSE);
}

#[test]
fn chunked_body() {
    let none = HeaderMap::new();
    let (h, _) = head(
        Method::PUT,
        "http://h/",
        Version::HTTP_11,
        &none,
        BodyLength::Chunked,
        true,
    )
    .unwrap();
    assert_eq!(
        h,
        "PUT / HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n"
    );
}

#[test]
fn empty_body_length_only_for_post_put_patch() {
    let none = HeaderMap::new();
    for method in [Method::POST, Method::PUT, Method::PATCH] {
        let (h, _) = head(
            method.clone(),
            "http://h/",
            Version::HTTP_11,
            &none,
            BodyLength::Empty,
            true,
        )
        .unwrap();
        assert_eq!(
            h,
            format!("{method} / HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n")
        );
    }
    for method in [
        Method::GET,
        Method::DELETE,
        Method::OPTIONS,
        Method::from_bytes(b"PURGE").unwrap(),
    ] {
        let (h, _) = head(
            method.clone(),
            "http://h/",
            Version::HTTP_11,
            &none,
            BodyLength::Empty,
            true,
        )
        .unwrap();
        assert_eq!(h, format!("{method} / HTTP/1.1\r\nhost: h\r\n\r\n"));
    }
    let (h, _) = head(
        Method::GET,
        "http://h/",
        Version::HTTP_11,
        &none,
        BodyLength::Known(0),
        true,
    )
    .unwrap();
    assert_eq!(h, "GET / HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n");
    let (h, _) = head(
        Method::POST,
        "http://h/",
        Version::HTTP_11,
        &none,
        BodyLength::Known(u64::MAX),
        true,
    )
    .unwrap();
    assert_eq!(
        h,
        "POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 18446744073709551615\r\n\r\n"
    );
}

#[test]
fn caller_host_overrides_uri() {
    let headers = map(&[("x-a", "1"), ("host", "virtual.example:8080")]);
    let (h, _) = head(
        Method::GET,
        "http://10.0.0.1/",
        Version::HTTP_11,
        &headers,
        BodyLength::Empty,
        true,
    )
    .unwrap();
    assert_eq!(
        h,
        "GET / HTTP/1.1\r\nhost: virtual.example:8080\r\nx-a: 1\r\n\r\n"
    );
    let headers = map(&[("host", "[::1]:1")]);
    assert!(head(
        Method::GET,
        "http://h/",
        Version::HTTP_11,
        &headers,
        BodyLength::Empty,
        true
    )
    .is_ok());
}

#[test]
fn rejects_bad_caller_host() {
    for bad in [
        "", "a b", "a/b", "a?b", "a#b", "user@h", "h:8x", "[::1", "h\t", "é",
    ] {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::HOST,
            HeaderValue::from_str(bad)
                .unwrap_or_else(|_| HeaderValue::from_bytes(bad.as_bytes()).unwrap()),
        );
        let got = head(
            Method::GET,
            "http://h/",
            Version::HTTP_11,
            &headers,
            BodyLength::Empty,
            true,
        );
        assert_eq!(got.unwrap_err(), RequestError::InvalidHost, "{bad:?}");
    }
    let two = map(&[("host", "a"), ("host", "b")]);
    let got = head(
        Method::GET,
        "http://h/",
        Version::HTTP_11,
        &two,
        BodyLength::Empty,
        true,
    );
    assert_eq!(got.unwrap_err(), RequestError::InvalidHost);
}

#[test]
fn keep_alive_false_adds_one_close() {
    let none = HeaderMap::new();
    let (h, info) = head(
        Method::GET,
        "http://h/",
        Version::HTTP_11,
        &none,
        BodyLength::Empty,
        false,
    )
    .unwrap();
    assert_eq!(h, "GET / HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n");
    assert!(info.wants_close);

    let caller = map(&[("connection", "Upgrade, Close")]);
    let (h, info) = head(
        Method::GET,
        "http://h/",
        Version::HTTP_11,
        &caller,
        BodyLength::Empty,
        false,
    )
    .unwrap();
    assert_eq!(
        h,
        "GET / HTTP/1.1\r\nhost: h\r\nconnection: Upgrade, Close\r\n\r\n"
    );
    assert!(info.wants_close);

    // The caller's close counts even with keep-alive on.
    let (h, info) = head(
        Method::GET,
        "http://h/",
        Version::HTTP_11,
        &caller,
        BodyLength::Empty,
        true,
    )
    .unwrap();
    assert_eq!(h.matches("onnection").count(), 1);
    assert!(info.wants_close);

    let other = map(&[("connection", "keep-alive")]);
    let (h, info) = head(
        Method::GET,
        "http://h/",
        Version::HTTP_11,
        &other,
        BodyLength::Empty,
        false,
    )
    .unwrap();
    assert_eq!(
        h,
        "GET / HTTP/1.1\r\nhost: h\r\nconnection: keep-alive\r\nconnection: close\r\n\r\n"
    );
    assert!(info.wants_close);
}

#[test]
fn http_10() {
    let none = HeaderMap::new();
    let (h, info) = head(
        Method::GET,
        "http://h/",
        Version::HTTP_10,
        &none,
        BodyLength::Empty,
        true,
    )
    .unwrap();
    assert_eq!(
        h,
        "GET / HTTP/1.0\r\nhost: h\r\nconnection: keep-alive\r\n\r\n"
    );
    assert_eq!(info, REUSE);
    let (h, info) = head(
        Method::GET,
        "http://h/",
        Version::HTTP_10,
        &none,
        BodyLength::Empty,
        false,
    )
    .unwrap();
    assert_eq!(h, "GET / HTTP/1.0\r\nhost: h\r\nconnection: close\r\n\r\n");
    assert!(info.wants_close);
    let caller = map(&[("connection", "Keep-Alive")]);
    let (h, _) = head(
        Method::GET,
        "http://h/",
        Version::HTTP_10,
        &caller,
        BodyLength::Known(1),
        true,
    )
    .unwrap();
    assert_eq!(
        h,
        "GET / HTTP/1.0\r\nhost: h\r\nconnection: Keep-Alive\r\ncontent-length: 1\r\n\r\n"
    );
    let got = head(
        Method::POST,
        "http://h/",
        Version::HTTP_10,
        &none,
        BodyLength::Chunked,
        true,
    );
    assert_eq!(got.unwrap_err(), RequestError::UnsupportedVersion);
}

#[test]
fn rejects_other_versions() {
    let none = HeaderMap::new();
    for version in [Version::HTTP_09, Version::HTTP_2, Version::HTTP_3] {
        let got = head(
            Method::GET,
            "http://h/",
            version,
            &none,
            BodyLength::Empty,
            true,
        );
        assert_eq!(got.unwrap_err(), RequestError::UnsupportedVersion);
    }
}

#[test]
fn connect_uses_authority_form() {
    let none = HeaderMap::new();
    let (h, _) = head(
        Method::CONNECT,
        "http://h/",
        Version::HTTP_11,
        &none,
        BodyLength::Empty,
        true,
    )
    .unwrap();
    assert_eq!(h, "CONNECT h:80 HTTP/1.1\r\nhost: h:80\r\n\r\n");
}

#[test]
fn rejects_bad_uris() {
    assert_eq!(
        get("ftp://h/").unwrap_err(),
        RequestError::UnsupportedScheme("ftp".into())
    );
    assert_eq!(get("/relative").unwrap_err(), RequestError::MissingScheme);
    assert_eq!(get("*").unwrap_err(), RequestError::MissingScheme);
    // Non-ASCII in the path: valid for `http::Uri`, not for a request line.
    assert_eq!(
        get("http://h/caf\u{e9}").unwrap_err(),
        RequestError::InvalidUri
    );
    assert_eq!(
        get("http://h/?q=\u{e9}").unwrap_err(),
        RequestError::InvalidUri
    );
    // `http::Uri` accepts these ports but cannot return them.
    assert_eq!(
        get("http://h:65536/").unwrap_err(),
        RequestError::InvalidUri
    );
    assert_eq!(get("http://h:8x/").unwrap_err(), RequestError::InvalidUri);
    assert_eq!(
        get("HTTP://h/").unwrap(),
        "GET / HTTP/1.1\r\nhost: h\r\n\r\n"
    );
}

/// `http`'s safe constructors cannot build a bad name or value (only the `unsafe`
/// `from_maybe_shared_unchecked`, which this crate forbids, can), so the check that
/// guards the writer against them is tested directly.
#[test]
fn rejects_bad_fields() {
    let name = HeaderName::from_static("x-token");
    for bad in [
        &b"a\r\nx-injected: 1"[..],
        b"a\n",
        b"a\r",
        b"a\0b",
        b"\x01",
        b"\x7f",
    ] {
        assert_eq!(
            check_field(&name, bad),
            Err(RequestError::InvalidHeaderValue {
                name: "x-token".into()
            })
        );
        assert!(HeaderValue::from_bytes(bad).is_err());
    }
    assert_eq!(check_field(&name, b"ok \t\xff"), Ok(()));
    let error = RequestError::InvalidHeaderValue {
        name: "x-token".into(),
    };
    assert!(!error.to_string().contains("injected"));
    assert!(HeaderName::from_bytes(b"bad name").is_err());
    assert!(HeaderName::from_bytes(b"bad:name").is_err());
}

#[test]
fn target_from_uri() {
    let target = |uri: &str| Target::from_uri(&uri.parse().unwrap());
    let t = target("http://Example.COM/x").unwrap();
    assert_eq!(
        t,
        Target {
            scheme: Scheme::HTTP,
            host: "example.com".into(),
            port: 80
        }
    );
    assert_eq!(t.to_string(), "http://example.com:80");
    let t = target("HTTP://[::FFFF:1.2.3.4]:8080").unwrap();
    assert_eq!(t.host, "::ffff:1.2.3.4");
    assert_eq!(t.port, 8080);
    assert_eq!(t.to_string(), "http://[::ffff:1.2.3.4]:8080");
    assert_eq!(
        target("http://[FE80::1%25Eth0]/").unwrap().host,
        "fe80::1%25Eth0"
    );
    assert_eq!(target("http://u:p@h:1/").unwrap().to_string(), "http://h:1");
    assert_eq!(
        target("ws://h/"),
        Err(RequestError::UnsupportedScheme("ws".into()))
    );
    assert_eq!(target("/x"), Err(RequestError::MissingScheme));
    assert_eq!(target("http://h:99999/"), Err(RequestError::InvalidUri));
    assert_eq!(target("http://h/"), target("http://H:80/"));
}

#[test]
fn chunks() {
    let mut out = Vec::new();
    write_chunk(b"hello", &mut out);
    write_chunk(b"", &mut out);
    write_chunk(&[b'x'; 26], &mut out);
    out.extend_from_slice(LAST_CHUNK);
    let mut expected = b"5\r\nhello\r\n1a\r\n".to_vec();
    expected.extend_from_slice(&[b'x'; 26]);
    expected.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_eq!(out, expected);
}

#[test]
fn number_formatting() {
    for n in [0, 1, 9, 10, 15, 16, 255, 4096, 1 << 40, u64::MAX] {
        let mut dec = Vec::new();
        push_decimal(n, &mut dec);
        assert_eq!(dec, n.to_string().into_bytes());
        let mut hex = Vec::new();
        push_hex(n, &mut hex);
        assert_eq!(hex, format!("{n:x}").into_bytes());
    }
}

/// `https` is the same HTTP/1.1 on the wire: its own default port (443), left out of the
/// `Host` header like 80 is for `http`, and a pool key of its own.
#[test]
fn https_targets_and_heads() {
    let target = |uri: &str| Target::from_uri(&uri.parse().unwrap());
    let t = target("HTTPS://Example.com/").unwrap();
    assert_eq!(
        (t.to_string(), t.is_tls()),
        ("https://example.com:443".to_owned(), true)
    );
    assert!(!target("http://example.com/").unwrap().is_tls());
    assert_ne!(
        target("https://h:80/"),
        target("http://h:80/"),
        "never the same pool key"
    );
    assert_eq!(
        get("https://h/x").unwrap(),
        "GET /x HTTP/1.1\r\nhost: h\r\n\r\n"
    );
    assert_eq!(
        get("https://h:443/").unwrap(),
        "GET / HTTP/1.1\r\nhost: h\r\n\r\n"
    );
    assert_eq!(
        get("https://h:80/").unwrap(),
        "GET / HTTP/1.1\r\nhost: h:80\r\n\r\n"
    );
    assert_eq!(
        get("http://h:443/").unwrap(),
        "GET / HTTP/1.1\r\nhost: h:443\r\n\r\n"
    );
}

#[test]
fn expect_100_continue_is_noted_only_with_a_body_on_http_1_1() {
    type Case = (
        &'static [(&'static str, &'static str)],
        BodyLength,
        Version,
        bool,
    );
    let cases: [Case; 8] = [
        (
            &[("expect", "100-continue")],
            BodyLength::Known(3),
            Version::HTTP_11,
            true,
        ),
        (
            &[("expect", "100-Continue")],
            BodyLength::Chunked,
            Version::HTTP_11,
            true,
        ),
        (
            &[("expect", "foo, 100-continue")],
            BodyLength::Known(1),
            Version::HTTP_11,
            true,
        ),
        // No body: nothing to hold back (Go: only with a body).
        (
            &[("expect", "100-continue")],
            BodyLength::Empty,
            Version::HTTP_11,
            false,
        ),
        // HTTP/1.0 has no 100 Continue (RFC 9110 §10.1.1).
        (
            &[("expect", "100-continue")],
            BodyLength::Known(3),
            Version::HTTP_10,
            false,
        ),
        (
            &[("expect", "200-ok")],
            BodyLength::Known(3),
            Version::HTTP_11,
            false,
        ),
        (
            &[("expect", "100-continued")],
            BodyLength::Known(3),
            Version::HTTP_11,
            false,
        ),
        (&[], BodyLength::Known(3), Version::HTTP_11, false),
    ];
    for (fields, body, version, want) in cases {
        let mut headers = HeaderMap::new();
        for (n, v) in fields {
            headers.append(*n, HeaderValue::from_static(v));
        }
        let (h, info) = head(Method::PUT, "http://h/", version, &headers, body, true).unwrap();
        assert_eq!(
            info.expects_continue, want,
            "{fields:?} {body:?} {version:?}"
        );
        // The header is sent as the caller gave it, and nothing else changes.
        for (n, v) in fields {
            assert!(h.contains(&format!("{n}: {v}\r\n")), "{h}");
        }
        assert!(!info.upgrade && !info.wants_close);
    }
}

#[test]
fn upgrade_requests_are_noted_and_never_get_connection_close() {
    let ws = map(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
    for keep_alive in [true, false] {
        let (h, info) = head(
            Method::GET,
            "http://h/chat",
            Version::HTTP_11,
            &ws,
            BodyLength::Empty,
            keep_alive,
        )
        .unwrap();
        assert_eq!(
            h,
            "GET /chat HTTP/1.1\r\nhost: h\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n"
        );
        assert_eq!(
            info,
            RequestInfo {
                upgrade: true,
                ..REUSE
            },
            "keep_alive {keep_alive}"
        );
    }
    // Either half alone is not an upgrade request.
    for fields in [
        &[("upgrade", "websocket")][..],
        &[("connection", "upgrade")][..],
        &[("connection", "keep-alive, upgraded"), ("upgrade", "h2c")][..],
    ] {
        let (_, info) = head(
            Method::GET,
            "http://h/",
            Version::HTTP_11,
            &map(fields),
            BodyLength::Empty,
            true,
        )
        .unwrap();
        assert!(!info.upgrade, "{fields:?}");
    }
    let both = map(&[("connection", "keep-alive, Upgrade"), ("upgrade", "h2c")]);
    let (_, info) = head(
        Method::GET,
        "http://h/",
        Version::HTTP_11,
        &both,
        BodyLength::Empty,
        true,
    )
    .unwrap();
    assert!(info.upgrade);
}
