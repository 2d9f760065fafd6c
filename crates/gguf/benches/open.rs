//! How long opening (mmap + full header validation) and reading the vocabulary takes on the real
//! llama.cpp Gemma 3 270M file (6.5 MB header, 262k-token vocabulary, 236 tensors).

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use dgemma_gguf::GgufFile;

fn real_file() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/generated/gguf/gemma-3-270m-q4_k_m.gguf");
    assert!(p.exists(), "missing {}: run `bash tests/setup.sh`", p.display());
    p
}

fn bench(c: &mut Criterion) {
    let path = real_file();
    c.bench_function("open gemma-3-270m (mmap + validate)", |b| {
        b.iter(|| GgufFile::open(&path).unwrap().tensors().len())
    });
    let f = GgufFile::open(&path).unwrap();
    c.bench_function("collect 262k tokens as &str", |b| {
        b.iter(|| f.get_str_array("tokenizer.ggml.tokens").unwrap().len())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
