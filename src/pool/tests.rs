//! Unit tests of `pool.rs`.

use super::*;

fn config() -> PoolConfig {
    PoolConfig {
        max_idle_per_host: 2,
        max_idle_total: 3,
        idle_timeout: Some(Duration::from_secs(10)),
        disable_keep_alives: false,
        max_conns_per_host: None,
    }
}

/// An empty pool with `config`.
fn pool_with(config: PoolConfig) -> Pool<&'static str, u32> {
    Pool::new(config)
}

fn alive(_: &mut u32) -> Option<CloseReason> {
    None
}

fn dial(p: &mut Pool<&'static str, u32>, n: u32) {
    dial_to(p, "a", n);
}

fn dial_to(p: &mut Pool<&'static str, u32>, key: &'static str, n: u32) {
    for _ in 0..n {
        assert!(p.try_reserve(&key));
        p.note_dialed();
    }
}

#[test]
fn taking_from_the_middle_of_the_idle_order_keeps_it() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut p = pool_with(PoolConfig {
        max_idle_total: 4,
        ..config()
    });
    dial_to(&mut p, "a", 2);
    dial_to(&mut p, "b", 2);
    p.try_put("a", 1, t0).unwrap();
    p.try_put("b", 2, t0 + s(1)).unwrap();
    p.try_put("a", 3, t0 + s(2)).unwrap();
    p.try_put("b", 4, t0 + s(3)).unwrap();
    // a's newest (3) is neither end of the global order.
    assert_eq!(p.take(&"a", t0 + s(3), alive), Some(3));
    // Expiry then goes 1 (10 s after t0), 2, 4: the order survived the removal.
    assert_eq!(p.next_expiry(), Some(t0 + s(10)));
    p.prune(t0 + s(11));
    assert_eq!(p.next_expiry(), Some(t0 + s(13)));
    assert_eq!(p.take(&"a", t0 + s(11), alive), None);
    assert_eq!(p.take(&"b", t0 + s(11), alive), Some(4));
    assert_eq!(p.stats().closed(CloseReason::IdleTimeout), 2);
    assert_eq!((p.stats().idle, p.stats().in_use), (0, 2));
    assert!(p.stats().is_balanced());
}

#[test]
fn lifo_per_host() {
    let t0 = Instant::now();
    let mut p = pool_with(config());
    dial(&mut p, 2);
    p.try_put("a", 1, t0).unwrap();
    p.try_put("a", 2, t0).unwrap();
    assert_eq!(p.take(&"a", t0, alive), Some(2));
    assert_eq!(p.take(&"a", t0, alive), Some(1));
    assert_eq!(p.take(&"a", t0, alive), None);
    assert_eq!(p.stats().reuses, 2);
    assert_eq!(p.stats().in_use, 2);
    assert!(p.stats().is_balanced());
}

#[test]
fn keys_are_separate() {
    let t0 = Instant::now();
    let mut p = pool_with(config());
    dial(&mut p, 1);
    p.try_put("a", 1, t0).unwrap();
    assert_eq!(p.take(&"b", t0, alive), None);
    assert_eq!(p.take(&"a", t0, alive), Some(1));
}

#[test]
fn per_host_limit_refuses_and_says_why() {
    let t0 = Instant::now();
    let mut p = pool_with(config());
    dial(&mut p, 3);
    p.try_put("a", 1, t0).unwrap();
    p.try_put("a", 2, t0).unwrap();
    assert_eq!(
        p.try_put("a", 3, t0),
        Err((3, CloseReason::TooManyIdleForHost))
    );
    // Refused: still in use until the caller closes it.
    assert_eq!(p.stats().in_use, 1);
    p.note_in_use_closed(&"a", CloseReason::TooManyIdleForHost);
    assert_eq!(p.stats().closed(CloseReason::TooManyIdleForHost), 1);
    assert!(p.stats().is_balanced());
}

#[test]
fn global_limit_evicts_the_longest_idle_of_any_host() {
    let t0 = Instant::now();
    let mut p = pool_with(config());
    dial_to(&mut p, "a", 2);
    dial_to(&mut p, "b", 1);
    dial_to(&mut p, "c", 1);
    p.try_put("a", 1, t0).unwrap();
    p.try_put("b", 2, t0).unwrap();
    p.try_put("a", 3, t0).unwrap();
    p.try_put("c", 4, t0).unwrap();
    assert_eq!(p.stats().idle, 3);
    assert_eq!(p.stats().closed(CloseReason::TooManyIdle), 1);
    // "a"/1 was the oldest.
    assert_eq!(p.take(&"a", t0, alive), Some(3));
    assert_eq!(p.take(&"a", t0, alive), None);
    assert!(p.stats().is_balanced());
}

#[test]
fn put_or_close_records_the_reason() {
    let t0 = Instant::now();
    let mut p = pool_with(PoolConfig {
        disable_keep_alives: true,
        ..config()
    });
    dial(&mut p, 1);
    assert_eq!(
        p.put_or_close("a", 1, t0),
        Some(CloseReason::KeepAlivesDisabled)
    );
    assert_eq!(p.stats().closed(CloseReason::KeepAlivesDisabled), 1);
    assert_eq!(p.stats().in_use, 0);
    assert!(p.stats().is_balanced());
}

#[test]
fn zero_per_host_means_no_pooling() {
    let mut p = pool_with(PoolConfig {
        max_idle_per_host: 0,
        ..config()
    });
    dial(&mut p, 1);
    assert_eq!(
        p.try_put("a", 1, Instant::now()),
        Err((1, CloseReason::KeepAlivesDisabled))
    );
}

#[test]
fn idle_timeout_closes_instead_of_handing_out() {
    let t0 = Instant::now();
    let mut p = pool_with(config());
    dial(&mut p, 2);
    p.try_put("a", 1, t0).unwrap();
    p.try_put("a", 2, t0 + Duration::from_secs(5)).unwrap();
    assert_eq!(p.next_expiry(), Some(t0 + Duration::from_secs(10)));
    // At t0+10s the first has expired; the second is still good.
    assert_eq!(p.take(&"a", t0 + Duration::from_secs(10), alive), Some(2));
    assert_eq!(p.stats().closed(CloseReason::IdleTimeout), 1);
    assert_eq!(p.next_expiry(), None);
    assert!(p.stats().is_balanced());
}

#[test]
fn prune_closes_only_expired() {
    let t0 = Instant::now();
    let mut p = pool_with(config());
    dial_to(&mut p, "a", 1);
    dial_to(&mut p, "b", 1);
    p.try_put("a", 1, t0).unwrap();
    p.try_put("b", 2, t0 + Duration::from_secs(1)).unwrap();
    p.prune(t0 + Duration::from_millis(10_500));
    assert_eq!(p.stats().idle, 1);
    assert_eq!(p.stats().closed(CloseReason::IdleTimeout), 1);
    p.prune(t0 + Duration::from_secs(11));
    assert_eq!(p.stats().idle, 0);
}

#[test]
fn failed_probe_closes_and_tries_the_next() {
    let t0 = Instant::now();
    let mut p = pool_with(config());
    dial(&mut p, 2);
    p.try_put("a", 1, t0).unwrap();
    p.try_put("a", 2, t0).unwrap();
    let got = p.take(&"a", t0, |c| {
        (*c == 2).then_some(CloseReason::ServerClosedIdle)
    });
    assert_eq!(got, Some(1));
    assert_eq!(p.stats().closed(CloseReason::ServerClosedIdle), 1);
    assert_eq!(p.stats().reuses, 1);
    assert!(p.stats().is_balanced());
}

#[test]
fn close_idle_refuses_puts_until_next_take() {
    let t0 = Instant::now();
    let mut p = pool_with(config());
    dial(&mut p, 3);
    p.try_put("a", 1, t0).unwrap();
    p.close_idle(CloseReason::CloseIdleConnections);
    assert_eq!(p.stats().idle, 0);
    assert_eq!(p.stats().closed(CloseReason::CloseIdleConnections), 1);
    assert_eq!(
        p.try_put("a", 2, t0),
        Err((2, CloseReason::CloseIdleConnections))
    );
    p.note_in_use_closed(&"a", CloseReason::CloseIdleConnections);
    assert_eq!(p.take(&"a", t0, alive), None);
    p.try_put("a", 3, t0).unwrap();
    assert!(p.stats().is_balanced());
}

#[test]
fn max_conns_per_host_counts_dialing_in_use_and_idle() {
    let t0 = Instant::now();
    let mut p = pool_with(PoolConfig {
        max_conns_per_host: Some(2),
        ..config()
    });
    assert_eq!(p.available(&"a"), 2);
    assert!(p.try_reserve(&"a"));
    assert!(p.try_reserve(&"a"));
    assert!(!p.try_reserve(&"a"), "two dialing: full");
    assert!(p.try_reserve(&"b"), "other hosts are separate");
    assert_eq!(p.available(&"a"), 0);
    p.release_reservation(&"a", true); // one dial failed
    assert_eq!(p.stats().dial_errors, 1);
    assert_eq!(p.available(&"a"), 1);
    p.note_dialed(); // the other succeeded
    p.try_put("a", 7, t0).unwrap();
    assert_eq!(p.available(&"a"), 2, "one idle plus one free slot");
    p.close_idle(CloseReason::CloseIdleConnections);
    assert_eq!(p.available(&"a"), 2);
    assert!(p.stats().is_balanced());
}

#[test]
#[should_panic(expected = "internal error")]
#[cfg(not(target_os = "wasi"))] // wasm32-wasip2 aborts on panic: #[should_panic] cannot run there.
fn closing_more_than_in_use_is_loud() {
    let mut p = pool_with(config());
    p.note_in_use_closed(&"a", CloseReason::ReadError);
}
