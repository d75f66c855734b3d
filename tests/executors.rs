//! The transport is executor-agnostic: the same keep-alive exchange under three executors.
//!
//! Native only: async-executor and tokio do not drive `wasi:io/poll` pollables, and on
//! wasm32-wasip2 the crate's own `block_on` is the executor (every other test file runs
//! under it there).
#![cfg(not(target_os = "wasi"))]

mod common;

use std::future::Future;

use common::*;
use roundtrip::Transport;

/// Server and client for three sequential requests on one connection.
fn exchange() -> (impl Future<Output = ()>, impl Future<Output = Transport>) {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    let server_task = async move {
        let mut peer = server.accept().await;
        for i in 0..3 {
            peer.read_request().await.unwrap();
            peer.respond(&i.to_string()).await;
        }
        peer.until_eof().await;
    };
    let client_task = async move {
        for i in 0..3 {
            assert_eq!(fetch(&t, &url).await.1, i.to_string());
        }
        t.close_idle_connections();
        t
    };
    (server_task, client_task)
}

fn check(t: Transport) {
    let want = Want {
        dials: 1,
        reuses: 2,
        requests: 3,
        closed: vec![(roundtrip::CloseReason::CloseIdleConnections, 1)],
        ..Want::default()
    };
    assert_stats(&t, &want, "after the three requests");
}

#[test]
fn futures_lite_block_on() {
    let (server, client) = exchange();
    check(futures_lite::future::block_on(futures_lite::future::zip(server, client)).1);
}

#[test]
fn async_executor_local_executor() {
    let ex = async_executor::LocalExecutor::new();
    let (server, client) = exchange();
    let server = ex.spawn(server);
    let t = futures_lite::future::block_on(ex.run(async {
        let t = client.await;
        server.await;
        t
    }));
    check(t);
}

#[test]
fn tokio_current_thread_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let (server, client) = exchange();
    let t = local.block_on(&rt, async {
        let server = tokio::task::spawn_local(server);
        let t = client.await;
        server.await.unwrap();
        t
    });
    check(t);
}
