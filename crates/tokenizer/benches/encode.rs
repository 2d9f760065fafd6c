//! Tokenizer load and encode speed on the interop GGUF (the real 262,144-token Gemma vocabulary
//! with 514,906 merges); needs `bash tests/setup.sh` for the fixture.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dgemma_gguf::GgufFile;
use dgemma_tokenizer::GemmaTokenizer;

fn bench(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/generated/interop/f32.gguf");
    let gguf = GgufFile::open(path).unwrap_or_else(|e| panic!("{path}: {e}: run `bash tests/setup.sh`"));
    let mut g = c.benchmark_group("tokenizer");
    g.sample_size(10);
    g.bench_function("load_from_gguf", |b| b.iter(|| GemmaTokenizer::from_gguf(&gguf).unwrap()));
    let tok = GemmaTokenizer::from_gguf(&gguf).unwrap();
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/spec/model.md");
    let text = std::fs::read_to_string(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("encode_model_md", |b| b.iter(|| tok.encode(&text, true, true).unwrap()));
    let ids = tok.encode(&text, true, true).unwrap();
    g.bench_function("decode_model_md", |b| b.iter(|| tok.decode(&ids, false).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
