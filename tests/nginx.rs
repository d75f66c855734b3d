//! Interop with a real nginx, natively and under wasmtime.
//!
//! `scripts/test.sh` installs and starts nginx (config: `scripts/nginx.conf`) and passes its
//! address in `ROUNDTRIP_NGINX_URL`; under wasmtime the runner's `-S inherit-env=y` hands the
//! variable to the component. Without it these tests are skipped, and say so on stderr past
//! the harness's capture (`SKIPPED ...`); with `ROUNDTRIP_FULL_TEST` set (the test script sets
//! it) a missing nginx fails them instead, so CI cannot skip them.

mod common;

use common::*;
use futures_lite::io::Cursor;
use roundtrip::{Body, Transport};

/// nginx's base URL, or `None` after a loud skip of `test` (see the module docs).
fn nginx(test: &str) -> Option<String> {
    match std::env::var("ROUNDTRIP_NGINX_URL") {
        Ok(url) => Some(url.trim_end_matches('/').to_string()),
        Err(_) => {
            skip(
                &format!("nginx::{test}"),
                "ROUNDTRIP_NGINX_URL is not set (scripts/test.sh starts nginx and sets it)",
            );
            None
        }
    }
}

/// The exact accounting after `requests` sequential requests on one kept-alive connection.
#[track_caller]
fn one_connection(t: &Transport, requests: u64) {
    one_connection_with(t, requests, 0);
}

/// [`one_connection`], with `handshakes` TLS handshakes (none of them resumed).
#[track_caller]
fn one_connection_with(t: &Transport, requests: u64, handshakes: u64) {
    let want = Want {
        dials: 1,
        reuses: requests - 1,
        requests,
        idle: 1,
        tls_handshakes: handshakes,
        ..Want::default()
    };
    assert_stats(t, &want, "after the requests");
}

/// 100 sequential GETs of `base`/hello.txt, every body checked, all on one connection: nginx
/// reports its connection serial number (`$connection`) in a response header, and it never
/// changes.
fn hundred_gets(t: &Transport, base: &str) {
    roundtrip::net::block_on(async {
        let mut first = None;
        for _ in 0..100 {
            let mut resp = t
                .round_trip(get(&format!("{base}/hello.txt")))
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            let conn = resp.headers()["x-connection"].to_str().unwrap().to_string();
            assert_eq!(*first.get_or_insert_with(|| conn.clone()), conn);
            assert_eq!(resp.body_mut().text().await.unwrap(), "hello from nginx\n");
        }
    });
}

/// 100 sequential requests use exactly one TCP connection.
#[test]
fn hundred_requests_one_connection() {
    let Some(base) = nginx("hundred_requests_one_connection") else {
        return;
    };
    let t = Transport::new();
    hundred_gets(&t, &base);
    one_connection(&t, 100);
}

/// Part of the host-call budget of a pooled request in wasm: exactly one `wasi:io/poll.poll`
/// (the wait for the response; writing the request and checking the idle connection never
/// wait).
///
/// wasm32-wasip2 only: natively async-io owns polling, the crate makes no poll calls of its
/// own and `poll_calls` is always 0, so there would be nothing to count.
#[cfg(target_os = "wasi")]
#[test]
fn a_pooled_request_costs_one_poll() {
    let Some(base) = nginx("a_pooled_request_costs_one_poll") else {
        return;
    };
    let t = Transport::new();
    let url = format!("{base}/hello.txt");
    let polls = roundtrip::net::block_on(async {
        let mut warm = t.round_trip(get(&url)).await.unwrap();
        warm.body_mut().bytes().await.unwrap();
        let before = roundtrip::net::poll_calls();
        for _ in 0..50 {
            let mut resp = t.round_trip(get(&url)).await.unwrap();
            assert_eq!(resp.body_mut().bytes().await.unwrap().len(), 17);
        }
        roundtrip::net::poll_calls() - before
    });
    assert_eq!(polls, 50);
    one_connection(&t, 51);
}

#[test]
fn head_404_and_large_file() {
    let Some(base) = nginx("head_404_and_large_file") else {
        return;
    };
    let t = Transport::new();
    roundtrip::net::block_on(async {
        let head = http::Request::head(format!("{base}/big.bin"))
            .body(Body::empty())
            .unwrap();
        let resp = t.round_trip(head).await.unwrap();
        assert_eq!(resp.headers()["content-length"], "1048576");
        assert!(resp.body().is_end_stream());

        let mut resp = t.round_trip(get(&format!("{base}/missing"))).await.unwrap();
        assert_eq!(resp.status(), 404);
        resp.body_mut().bytes().await.unwrap();

        let mut resp = t.round_trip(get(&format!("{base}/big.bin"))).await.unwrap();
        let body = resp.body_mut().bytes().await.unwrap();
        assert_eq!(body.len(), 1 << 20);
    });
    one_connection(&t, 3);
}

/// gzip makes nginx stream a chunked response.
#[test]
fn chunked_response_from_nginx() {
    let Some(base) = nginx("chunked_response_from_nginx") else {
        return;
    };
    let t = Transport::new();
    roundtrip::net::block_on(async {
        for _ in 0..3 {
            let req = http::Request::get(format!("{base}/big.txt"))
                .header("accept-encoding", "gzip")
                .body(Body::empty())
                .unwrap();
            let mut resp = t.round_trip(req).await.unwrap();
            assert_eq!(resp.headers()["transfer-encoding"], "chunked");
            assert_eq!(resp.headers()["content-encoding"], "gzip");
            let body = resp.body_mut().bytes().await.unwrap();
            assert_eq!(&body[..2], &[0x1f, 0x8b], "gzip magic");
        }
    });
    one_connection(&t, 3);
}

/// nginx gzips `big.txt` (`gzip on` for text/plain, scripts/nginx.conf) for the default
/// request, which asks for it: the body comes decoded, byte for byte what `seq 1 20000`
/// wrote, marked `Decompressed`, without `Content-Encoding`, three times on one connection.
#[cfg(feature = "decompress")]
#[test]
fn gzip_from_nginx_is_decoded() {
    let Some(base) = nginx("gzip_from_nginx_is_decoded") else {
        return;
    };
    let want: String = (1..=20000).map(|i| format!("{i}\n")).collect();
    let t = Transport::new();
    roundtrip::net::block_on(async {
        for _ in 0..3 {
            let mut resp = t.round_trip(get(&format!("{base}/big.txt"))).await.unwrap();
            assert_eq!(resp.status(), 200);
            let marker = resp.extensions().get::<roundtrip::Decompressed>().copied();
            assert_eq!(
                marker,
                Some(roundtrip::Decompressed(roundtrip::ContentEncoding::Gzip))
            );
            assert!(resp.headers().get("content-encoding").is_none());
            assert_eq!(resp.headers()["transfer-encoding"], "chunked");
            assert_eq!(resp.body_mut().text().await.unwrap(), want);
        }
    });
    one_connection(&t, 3);
}

/// Sized and chunked request bodies; nginx answers with the length it saw.
#[test]
fn request_bodies_to_nginx() {
    let Some(base) = nginx("request_bodies_to_nginx") else {
        return;
    };
    let t = Transport::new();
    roundtrip::net::block_on(async {
        let url = format!("{base}/post");
        let sized = http::Request::post(&url)
            .body(Body::from(vec![b'a'; 70_000]))
            .unwrap();
        let mut resp = t.round_trip(sized).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.body_mut().text().await.unwrap(), "got 70000\n");

        let streamed = Body::from_reader(Cursor::new(vec![b'b'; 50_000]), None);
        let chunked = http::Request::post(&url).body(streamed).unwrap();
        let mut resp = t.round_trip(chunked).await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.body_mut().bytes().await.unwrap();
    });
    one_connection(&t, 2);
}

/// The same over TLS: nginx's https port (a throwaway CA the test script made with openssl),
/// 100 requests over one TLS connection and one handshake, every body correct. The CA comes
/// as PEM text in `ROUNDTRIP_NGINX_CA_PEM`, which reaches a component through the
/// environment where a file path would need a preopen.
#[cfg(feature = "tls")]
#[test]
fn hundred_https_requests_one_connection() {
    let test = "hundred_https_requests_one_connection";
    let (Ok(base), Ok(ca)) = (
        std::env::var("ROUNDTRIP_NGINX_TLS_URL"),
        std::env::var("ROUNDTRIP_NGINX_CA_PEM"),
    ) else {
        let why = "ROUNDTRIP_NGINX_TLS_URL / ROUNDTRIP_NGINX_CA_PEM are not set (scripts/test.sh)";
        skip(&format!("nginx::{test}"), why);
        return;
    };
    let t = Transport::builder()
        .add_root_certificates(ca.as_bytes())
        .unwrap()
        .build();
    hundred_gets(&t, &base);
    one_connection_with(&t, 100, 1);
}
