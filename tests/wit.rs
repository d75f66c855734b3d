//! `wit/world.wit` stays true to what a built component imports.
//!
//! Reads the component named by `ROUNDTRIP_COMPONENT` (default: the release build of the
//! `get` example for wasm32-wasip2, which `scripts/test.sh` builds first) and compares its
//! imports with the world for the features this test is built with (`client`, or
//! `client-tls` with the `tls` feature; the test script builds both alike): every interface
//! the world lists must be imported, and every `wasi:sockets` and `wasi:random/random`
//! interface imported must be listed (the other `wasi:io`/`wasi:clocks` imports a component
//! has may come from std, e.g. `wasi:clocks/wall-clock`).
//!
//! Without the component the test is skipped, and says so on stderr past the harness's
//! capture; with `ROUNDTRIP_FULL_TEST` set (the test script sets it) it fails instead.
//!
//! Native only: it inspects a wasm file with wasmparser; there is nothing to run under
//! wasmtime.
#![cfg(not(target_os = "wasi"))]

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

/// The imports of `world` in `wit/world.wit`, following its `include`s.
fn world_imports(world: &str) -> BTreeSet<String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/wit/world.wit")).unwrap();
    let start = text
        .find(&format!("world {world} {{"))
        .unwrap_or_else(|| panic!("wit/world.wit has no world {world}"));
    let body = &text[start..start + text[start..].find('}').unwrap()];
    let mut out = BTreeSet::new();
    for line in body.lines().map(str::trim) {
        let item = |p: &str| line.strip_prefix(p).map(|l| l.trim_end_matches(';').trim());
        if let Some(import) = item("import ") {
            out.insert(import.to_string());
        } else if let Some(included) = item("include ") {
            out.extend(world_imports(included));
        }
    }
    out
}

fn component_imports(path: &PathBuf) -> BTreeSet<String> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = BTreeSet::new();
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        // Only the outermost component's imports are the host's interface.
        if let Ok(wasmparser::Payload::ComponentImportSection(reader)) = payload {
            for import in reader {
                out.insert(import.unwrap().name.name.to_string());
            }
        }
    }
    out
}

#[test]
fn world_matches_component_imports() {
    let path = std::env::var_os("ROUNDTRIP_COMPONENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/target/wasm32-wasip2/release/examples/get.wasm"
            ))
        });
    if !path.exists() {
        let why = format!(
            "{} is not built (scripts/test.sh builds it)",
            path.display()
        );
        common::skip("wit::world_matches_component_imports", &why);
        return;
    }
    let world = world_imports(if cfg!(feature = "tls") {
        "client-tls"
    } else {
        "client"
    });
    let imported = component_imports(&path);
    eprintln!("component imports: {imported:?}");
    assert!(!world.is_empty());
    let missing: Vec<_> = world.difference(&imported).collect();
    assert!(
        missing.is_empty(),
        "world lists imports the component lacks: {missing:?}\ncomponent: {imported:?}"
    );
    let unlisted: Vec<_> = imported
        .iter()
        .filter(|i| {
            (i.starts_with("wasi:sockets/") || i.starts_with("wasi:random/random"))
                && !world.contains(*i)
        })
        .collect();
    assert!(
        unlisted.is_empty(),
        "component imports sockets or random interfaces the world lacks: {unlisted:?}"
    );
}
