//! `wit/world.wit` stays true to what a built component imports.
//!
//! Reads the component named by `ROUNDTRIP_COMPONENT` (default: the release build of the
//! `get` example for wasm32-wasip2, which `scripts/test.sh` builds first) and compares its
//! imports with the world's: every interface the world lists must be imported, and every
//! `wasi:sockets` interface imported must be listed (the other `wasi:io`/`wasi:clocks` imports
//! a component has may come from std, e.g. `wasi:clocks/wall-clock`).
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

fn world_imports() -> BTreeSet<String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/wit/world.wit")).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("import "))
        .map(|l| l.trim_end_matches(';').trim().to_string())
        .collect()
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
    let world = world_imports();
    let imported = component_imports(&path);
    assert!(!world.is_empty());
    let missing: Vec<_> = world.difference(&imported).collect();
    assert!(
        missing.is_empty(),
        "world lists imports the component lacks: {missing:?}\ncomponent: {imported:?}"
    );
    let unlisted: Vec<_> = imported
        .iter()
        .filter(|i| i.starts_with("wasi:sockets/") && !world.contains(*i))
        .collect();
    assert!(
        unlisted.is_empty(),
        "component imports sockets interfaces the world lacks: {unlisted:?}"
    );
}
