//! dgemma's seeded stream against the draws llama.cpp's sampler makes (g++ 12.2 libstdc++),
//! recorded in ../shared/interop/reference/rng.json.

use dgemma_sampler::{draw_initial_canvas, draw_step, LlamaRng};

fn reference() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/interop/reference/rng.json");
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (the shared interop data must sit beside the repository)"));
    serde_json::from_str(&text).expect("rng.json parses")
}

#[test]
fn seeded_stream_reproduces_llama_cpp_draws_for_every_seed_and_vocab() {
    let data = reference();
    let cases = data.as_object().unwrap();
    assert_eq!(cases.len(), 10, "five seeds x two vocabularies");
    for (name, case) in cases {
        // Names look like V262144_seed42.
        let (v, seed) = name.trim_start_matches('V').split_once("_seed").unwrap();
        let (vocab, seed): (u32, u32) = (v.parse().unwrap(), seed.parse().unwrap());
        let init: Vec<u32> = case["init_canvas_16"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap() as u32)
            .collect();
        let draws = case["step_draws_16x(float,token)"].as_array().unwrap();
        let want_u: Vec<f32> = draws.iter().map(|d| d[0].as_f64().unwrap() as f32).collect();
        let want_t: Vec<u32> = draws.iter().map(|d| d[1].as_u64().unwrap() as u32).collect();

        let mut rng = LlamaRng::new(seed);
        let mut canvas = vec![0u32; init.len()];
        draw_initial_canvas(&mut rng, vocab, &mut canvas);
        assert_eq!(canvas, init, "{name}: initial canvas");
        let mut u = vec![0f32; want_u.len()];
        let mut t = vec![0u32; want_t.len()];
        draw_step(&mut rng, vocab, &mut u, &mut t);
        assert_eq!(u, want_u, "{name}: sampling floats");
        assert_eq!(t, want_t, "{name}: re-noise tokens");
    }
}
