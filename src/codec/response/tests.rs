//! Unit tests of `response.rs`.

use super::*;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test; // there, run by wasm-bindgen-test in node

/// Parses a complete head after checking that every strict prefix is incomplete, and that
/// bytes after the head are not consumed.
fn parse(input: &[u8]) -> ResponseHead {
    for end in 0..input.len() {
        let prefix = &input[..end];
        assert!(
            parse_response_head(prefix, DEFAULT_MAX_HEAD_BYTES)
                .unwrap()
                .is_none(),
            "prefix {:?}",
            prefix.escape_ascii().to_string()
        );
    }
    let (head, consumed) = parse_response_head(input, DEFAULT_MAX_HEAD_BYTES)
        .unwrap()
        .unwrap();
    assert_eq!(consumed, input.len());
    let mut more = input.to_vec();
    more.extend_from_slice(b"body bytes\r\n\r\n");
    let (again, consumed) = parse_response_head(&more, DEFAULT_MAX_HEAD_BYTES)
        .unwrap()
        .unwrap();
    assert_eq!(consumed, input.len());
    assert_eq!(again.headers, head.headers);
    head
}

fn parse_err(input: &[u8]) -> ProtocolError {
    parse_response_head(input, DEFAULT_MAX_HEAD_BYTES).unwrap_err()
}

fn head(version: Version, status: u16, headers: &[(&'static str, &'static str)]) -> ResponseHead {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(*name, HeaderValue::from_static(value));
    }
    ResponseHead {
        version,
        status: StatusCode::from_u16(status).unwrap(),
        reason: Bytes::new(),
        headers: map,
    }
}

fn framing(
    status: u16,
    headers: &[(&'static str, &'static str)],
) -> Result<ResponseFraming, ProtocolError> {
    response_framing(
        &Method::GET,
        false,
        &head(Version::HTTP_11, status, headers),
    )
}

fn framed(
    framing: Framing,
    close: Option<CloseReason>,
    content_length: Option<u64>,
) -> ResponseFraming {
    ResponseFraming {
        framing,
        close,
        content_length,
    }
}

#[test]
fn httparse_and_header_value_accept_the_same_bytes() {
    for b in 0..=255u8 {
        let value = [b'a', b, b'a'];
        let mut head = b"HTTP/1.1 200 OK\r\nx: ".to_vec();
        head.extend_from_slice(&value);
        head.extend_from_slice(b"\r\n\r\n");
        let accepted = match parse_response_head(&head, DEFAULT_MAX_HEAD_BYTES) {
            Ok(Some((parsed, _))) => parsed.headers["x"].as_bytes() == value,
            _ => false,
        };
        assert_eq!(
            accepted,
            HeaderValue::from_bytes(&value).is_ok(),
            "byte {b:#04x}"
        );
    }
}
#[test]
fn parses_a_head() {
    let head = parse(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n");
    assert_eq!(head.version, Version::HTTP_11);
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.reason, "OK");
    assert_eq!(head.headers["content-type"], "text/plain");
    let cookies: Vec<_> = head.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
}

#[test]
fn parses_lenient_forms() {
    // Missing reason phrase, with and without the space.
    let head = parse(b"HTTP/1.1 400\r\n\r\n");
    assert_eq!(
        (head.status, std::str::from_utf8(&head.reason).unwrap()),
        (StatusCode::BAD_REQUEST, "")
    );
    let head = parse(b"HTTP/1.0 404 \r\n\r\n");
    assert_eq!(
        (head.version, head.status),
        (Version::HTTP_10, StatusCode::NOT_FOUND)
    );
    // Space before the colon, which Go also keeps.
    let head = parse(b"HTTP/1.1 200 OK\r\nFoo : bar\r\n\r\n");
    assert_eq!(head.headers["foo"], "bar");
    // Obsolete line folding becomes spaces.
    let head = parse(b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\n\tc\r\nY: d\r\n\r\n");
    assert_eq!(head.headers["x-folded"], "a    b   c");
    assert_eq!(unfold(b"a\tb\n \tc\r\n\t\td\te"), b"a\tb   c    d\te");
    assert_eq!(head.headers["y"], "d");
    // Bare LF line endings, empty lines before the status line, obs-text in the reason.
    let head = parse(b"\r\n\nHTTP/1.1 201 Cr\xe9\xe9\nA: 1\n\n");
    assert_eq!(
        (head.status, std::str::from_utf8(&head.reason).unwrap()),
        (StatusCode::CREATED, "")
    );
    assert_eq!(head.headers["a"], "1");
    // Empty and non-ASCII values.
    let head = parse(b"HTTP/1.1 200 OK\r\nEmpty:\r\nLatin: caf\xe9\r\n\r\n");
    assert_eq!(head.headers["empty"], "");
    assert_eq!(head.headers["latin"].as_bytes(), b"caf\xe9");
}

#[test]
fn rejects_other_versions() {
    for line in [
        &b"HTTP/2.0 200 OK\r\n\r\n"[..],
        b"HTTP/2 200\r\n\r\n",
        b"HTTP/1.10 200 OK\r\n\r\n",
        b"HTTP/1.a 200 OK\r\n\r\n",
    ] {
        let error = parse_err(line);
        let ProtocolError::UnsupportedVersion { bytes } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(bytes.as_bytes(), &line[..line.len() - 2]);
    }
    assert!(matches!(
        parse_err(b"HTTP/2"),
        ProtocolError::UnsupportedVersion { .. }
    ));
    assert!(matches!(
        parse_err(b"ICY 200 OK\r\n\r\n"),
        ProtocolError::MalformedHead {
            reason: "not an HTTP/1.x status line",
            ..
        }
    ));
}

#[test]
fn rejects_malformed_heads_quoting_the_line() {
    let cases: [(&[u8], &str, &[u8]); 6] = [
        (
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            "invalid status line",
            b"HTTP/1.1 2x0 OK\r\n",
        ),
        (
            b"HTTP/1.1 099 Low\r\n\r\n",
            "status code out of range",
            b"HTTP/1.1 099 Low\r\n",
        ),
        (
            b"HTTP/1.1 200 OK\r\nA: 1\r\nBad Name: x\r\nC: 3\r\n\r\n",
            "invalid header name",
            b"Bad Name: x\r\n",
        ),
        (
            b"HTTP/1.1 200 OK\r\nA: 1\r\nB: x\x00y\r\n\r\n",
            "invalid header value",
            b"B: x\x00y\r\n",
        ),
        (
            b"HTTP/1.1 200 OK\r\n Leading: space\r\n\r\n",
            "invalid header name",
            b" Leading: space\r\n",
        ),
        (
            b"HTTP/1.1 200 OK\r\nA: 1\rB: 2\r\n\r\n",
            "invalid header value",
            b"A: 1\rB: 2\r\n",
        ),
    ];
    for (input, want_reason, want_line) in cases {
        match parse_err(input) {
            ProtocolError::MalformedHead { reason, bytes } => {
                assert_eq!((reason, bytes.as_bytes()), (want_reason, want_line));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn head_size_limit() {
    let input = b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n";
    let n = input.len();
    assert_eq!(parse_response_head(input, n).unwrap().unwrap().1, n);
    assert_eq!(
        parse_response_head(&input[..n - 1], n)
            .unwrap()
            .map(|h| h.1),
        None
    );
    assert_eq!(
        parse_response_head(&input[..n - 1], n - 1).unwrap_err(),
        ProtocolError::HeadTooLarge { limit: n - 1 }
    );
    assert_eq!(
        parse_response_head(input, n - 1).unwrap_err(),
        ProtocolError::HeadTooLarge { limit: n - 1 }
    );
    // A head that never ends: an error once the limit is buffered, not a wait for more.
    let mut endless = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
    endless.resize(DEFAULT_MAX_HEAD_BYTES - 1, b'a');
    assert!(parse_response_head(&endless, DEFAULT_MAX_HEAD_BYTES)
        .unwrap()
        .is_none());
    endless.push(b'a');
    let too_large = ProtocolError::HeadTooLarge {
        limit: DEFAULT_MAX_HEAD_BYTES,
    };
    assert_eq!(
        parse_response_head(&endless, DEFAULT_MAX_HEAD_BYTES).unwrap_err(),
        too_large
    );
    endless.extend_from_slice(&[b'a'; 1000]);
    assert_eq!(
        parse_response_head(&endless, DEFAULT_MAX_HEAD_BYTES).unwrap_err(),
        too_large
    );
    // With no limit to speak of, nothing is ever complete.
    assert_eq!(
        parse_response_head(b"", 0).unwrap_err(),
        ProtocolError::HeadTooLarge { limit: 0 }
    );
}

/// RFC 9112 §2.3: a higher minor version of HTTP/1 is processed as HTTP/1.1 (issue 11).
#[test]
fn a_higher_minor_version_is_read_as_http_11() {
    for version in ["1.2", "1.9"] {
        let input = format!("\r\nHTTP/{version} 200 OK\r\ncontent-length: 2\r\n\r\n");
        let got = parse(input.as_bytes());
        assert_eq!(got.version, Version::HTTP_11, "{version}");
        assert_eq!(
            (got.status, &got.headers["content-length"]),
            (StatusCode::OK, &HeaderValue::from_static("2"))
        );
    }
}

/// The limit is the head's bytes, as Go's `MaxResponseHeaderBytes`, not a count of fields:
/// more fields than the parser's stack slots are parsed too (issue 11: 201 `Set-Cookie`).
#[test]
fn many_header_fields_within_the_byte_limit() {
    let mut input = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..201 {
        input.extend_from_slice(format!("set-cookie: c{i}=v\r\n").as_bytes());
    }
    input.extend_from_slice(b"\r\n");
    assert!(input.len() < 8 * 1024 && 201 > MAX_HEADERS);
    let got = parse(&input);
    let cookies: Vec<_> = got.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies.len(), 201);
    assert_eq!(
        (cookies[0].as_bytes(), cookies[200].as_bytes()),
        (&b"c0=v"[..], &b"c200=v"[..])
    );
    // The byte limit still holds.
    let limit = input.len() - 1;
    assert_eq!(
        parse_response_head(&input, limit).unwrap_err(),
        ProtocolError::HeadTooLarge { limit }
    );
}

#[test]
fn bodiless_statuses_and_head() {
    for status in [100, 103, 204, 304] {
        let got = framing(
            status,
            &[("content-length", "10"), ("transfer-encoding", "chunked")],
        )
        .unwrap();
        assert_eq!(got, framed(Framing::Empty, None, None), "{status}");
    }
    assert_eq!(
        framing(304, &[("transfer-encoding", "chunked")]).unwrap(),
        framed(Framing::Empty, None, None)
    );
    assert_eq!(
        framing(304, &[("content-length", "7")]).unwrap(),
        framed(Framing::Empty, None, Some(7))
    );
    // A malformed length cannot matter there.
    assert_eq!(
        framing(204, &[("content-length", "x")]).unwrap(),
        framed(Framing::Empty, None, None)
    );

    let ok = head(Version::HTTP_11, 200, &[("content-length", "123")]);
    assert_eq!(
        response_framing(&Method::HEAD, false, &ok).unwrap(),
        framed(Framing::Empty, None, Some(123))
    );
    let chunked = head(Version::HTTP_11, 200, &[("transfer-encoding", "chunked")]);
    assert_eq!(
        response_framing(&Method::HEAD, false, &chunked).unwrap(),
        framed(Framing::Empty, None, None)
    );
}

#[test]
fn upgrades_and_tunnels_close() {
    assert_eq!(
        framing(101, &[("upgrade", "websocket"), ("connection", "upgrade")]).unwrap(),
        framed(Framing::Empty, Some(CloseReason::Upgraded), None)
    );
    // A 101 is bodiless whatever it says, and its connection is handed over even when it
    // also says close.
    assert_eq!(
        framing(101, &[("connection", "close"), ("content-length", "4")]).unwrap(),
        framed(Framing::Empty, Some(CloseReason::Upgraded), Some(4))
    );
    let established = head(Version::HTTP_11, 200, &[("content-length", "5")]);
    assert_eq!(
        response_framing(&Method::CONNECT, false, &established).unwrap(),
        framed(Framing::Empty, Some(CloseReason::ResponseClose), Some(5))
    );
    let refused = head(Version::HTTP_11, 407, &[("content-length", "5")]);
    assert_eq!(
        response_framing(&Method::CONNECT, false, &refused).unwrap(),
        framed(Framing::Length(5), None, Some(5))
    );
}

#[test]
fn transfer_encoding() {
    let chunked = framed(Framing::Chunked, None, None);
    assert_eq!(
        framing(200, &[("transfer-encoding", "chunked")]).unwrap(),
        chunked
    );
    assert_eq!(
        framing(200, &[("transfer-encoding", "gzip, CHUNKED")]).unwrap(),
        chunked
    );
    assert_eq!(
        framing(
            200,
            &[
                ("transfer-encoding", "gzip"),
                ("transfer-encoding", " chunked ,")
            ]
        )
        .unwrap(),
        chunked
    );
    let to_eof = framed(
        Framing::CloseDelimited,
        Some(CloseReason::CloseDelimited),
        None,
    );
    assert_eq!(
        framing(200, &[("transfer-encoding", "chunked, gzip")]).unwrap(),
        to_eof
    );
    assert_eq!(
        framing(200, &[("transfer-encoding", "gzip")]).unwrap(),
        to_eof
    );
    assert_eq!(framing(200, &[("transfer-encoding", "")]).unwrap(), to_eof);
    assert_eq!(
        framing(200, &[("transfer-encoding", "chunkedx")]).unwrap(),
        to_eof
    );
    // TE wins over CL, even a broken CL, but the connection is not trusted.
    for cl in ["10", "x", "1, 2"] {
        assert_eq!(
            framing(
                200,
                &[("content-length", cl), ("transfer-encoding", "chunked")]
            )
            .unwrap(),
            framed(Framing::Chunked, Some(CloseReason::AmbiguousFraming), None)
        );
    }
    // Transfer-Encoding in HTTP/1.0 is faulty framing (RFC 9112 §6.1).
    let old = head(
        Version::HTTP_10,
        200,
        &[
            ("transfer-encoding", "chunked"),
            ("connection", "keep-alive"),
        ],
    );
    assert_eq!(
        response_framing(&Method::GET, false, &old).unwrap(),
        framed(Framing::Chunked, Some(CloseReason::AmbiguousFraming), None)
    );
}

#[test]
fn content_length() {
    let length = |n| framed(Framing::Length(n), None, Some(n));
    assert_eq!(framing(200, &[("content-length", "0")]).unwrap(), length(0));
    assert_eq!(
        framing(200, &[("content-length", "007")]).unwrap(),
        length(7)
    );
    assert_eq!(
        framing(200, &[("content-length", "5, 5")]).unwrap(),
        length(5)
    );
    assert_eq!(
        framing(200, &[("content-length", "5"), ("content-length", "5")]).unwrap(),
        length(5)
    );
    assert_eq!(
        framing(200, &[("content-length", "18446744073709551615")]).unwrap(),
        length(u64::MAX)
    );
    for bad in [
        "+3",
        "-1",
        "3x",
        "",
        " ",
        "5,",
        "0x10",
        "1 2",
        "18446744073709551616",
        "٣",
    ] {
        let mut map = HeaderMap::new();
        map.insert(
            CONTENT_LENGTH,
            HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
        );
        let response = ResponseHead {
            headers: map,
            ..head(Version::HTTP_11, 200, &[])
        };
        assert_eq!(
            response_framing(&Method::GET, false, &response),
            Err(ProtocolError::InvalidContentLength {
                value: Excerpt::new(bad.as_bytes())
            }),
            "{bad:?}"
        );
    }
    assert_eq!(
        framing(200, &[("content-length", "5, 6")]),
        Err(ProtocolError::ConflictingContentLength)
    );
    assert_eq!(
        framing(200, &[("content-length", "5"), ("content-length", "6")]),
        Err(ProtocolError::ConflictingContentLength)
    );
}

#[test]
fn close_delimited_without_framing_headers() {
    assert_eq!(
        framing(200, &[]).unwrap(),
        framed(
            Framing::CloseDelimited,
            Some(CloseReason::CloseDelimited),
            None
        )
    );
}

#[test]
fn keep_alive_rules() {
    let chunked = ("transfer-encoding", "chunked");
    // HTTP/1.1: persistent unless `close`.
    assert_eq!(
        framing(200, &[chunked, ("connection", "Keep-Alive, CLOSE")])
            .unwrap()
            .close,
        Some(CloseReason::ResponseClose)
    );
    assert_eq!(
        framing(200, &[chunked, ("connection", "closed")])
            .unwrap()
            .close,
        None
    );
    // HTTP/1.0: persistent only with keep-alive and a self-delimited body.
    let v10 = |headers: &[(&'static str, &'static str)]| {
        response_framing(&Method::GET, false, &head(Version::HTTP_10, 200, headers))
            .unwrap()
            .close
    };
    assert_eq!(
        v10(&[("content-length", "1")]),
        Some(CloseReason::ResponseClose)
    );
    assert_eq!(
        v10(&[("content-length", "1"), ("connection", "keep-alive")]),
        None
    );
    assert_eq!(
        v10(&[("content-length", "1"), ("connection", "keep-alive, close")]),
        Some(CloseReason::ResponseClose)
    );
    assert_eq!(
        v10(&[("connection", "keep-alive")]),
        Some(CloseReason::CloseDelimited)
    );
    assert_eq!(v10(&[]), Some(CloseReason::ResponseClose));
    // The request's close comes first.
    let ok = head(Version::HTTP_11, 200, &[("connection", "close")]);
    assert_eq!(
        response_framing(&Method::GET, true, &ok).unwrap().close,
        Some(CloseReason::RequestClose)
    );
    let ambiguous = head(Version::HTTP_11, 200, &[chunked, ("content-length", "1")]);
    assert_eq!(
        response_framing(&Method::GET, true, &ambiguous)
            .unwrap()
            .close,
        Some(CloseReason::RequestClose)
    );
}

#[test]
fn interim() {
    for code in [100, 102, 103, 199] {
        assert!(is_interim(StatusCode::from_u16(code).unwrap()), "{code}");
    }
    for code in [101, 200, 204, 304, 404] {
        assert!(!is_interim(StatusCode::from_u16(code).unwrap()), "{code}");
    }
    // An interim response followed by the final one, in one buffer.
    let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let mut at = 0;
    let mut statuses = Vec::new();
    loop {
        let (head, consumed) = parse_response_head(&input[at..], DEFAULT_MAX_HEAD_BYTES)
            .unwrap()
            .unwrap();
        at += consumed;
        statuses.push(head.status.as_u16());
        if !is_interim(head.status) {
            break;
        }
    }
    assert_eq!(statuses, [100, 103, 200]);
    assert_eq!(at, input.len());
}

#[test]
fn decimal() {
    assert_eq!(parse_decimal(b"0"), Some(0));
    assert_eq!(parse_decimal(b"00000000000000000000000000042"), Some(42));
    assert_eq!(parse_decimal(b""), None);
    assert_eq!(parse_decimal(b"99999999999999999999"), None);
    assert_eq!(parse_decimal(b"1/"), None);
    assert_eq!(parse_decimal(b"1:"), None);
}
