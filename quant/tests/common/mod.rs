//! Where the generated reference fixtures live (shared by the fixture-driven tests; a
//! subdirectory so cargo does not build it as a test of its own).

use std::path::PathBuf;

/// `tests/fixtures/generated/quant/<rel>`, failing with the setup instruction when absent.
pub fn generated(rel: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/generated/quant").join(rel);
    assert!(
        path.exists(),
        "missing generated fixture {}: run `bash tests/setup.sh` (it runs tests/fixtures/generate.d/20-quant.sh)",
        path.display()
    );
    path
}

/// Read a generated fixture file.
pub fn read(rel: &str) -> Vec<u8> {
    let path = generated(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Read a generated JSON fixture.
pub fn read_json(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&read(rel)).unwrap_or_else(|e| panic!("parsing {rel}: {e}"))
}
