//! The tokenizer against llama.cpp's ids for 1,201 strings on the interop checkpoint
//! (../shared/interop/reference/tokenize.json), built both from dgemma's GGUF of that checkpoint
//! and from its Hugging Face files with the converter's rules; decode round trips; the chat
//! template against transformers' rendering.

use std::path::PathBuf;
use std::sync::OnceLock;

use dgemma_tokenizer::{ChatMessage, ChatTemplate, GemmaTokenizer, TokenType, TokenizerMetadata};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn generated(rel: &str) -> PathBuf {
    let p = repo().join("tests/fixtures/generated").join(rel);
    assert!(p.exists(), "{} is missing: run `bash tests/setup.sh`", p.display());
    p
}

fn reference() -> &'static Value {
    static R: OnceLock<Value> = OnceLock::new();
    R.get_or_init(|| {
        let p = repo().join("../shared/interop/reference/tokenize.json");
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        serde_json::from_str(&text).unwrap()
    })
}

fn hf_metadata() -> &'static TokenizerMetadata {
    static M: OnceLock<TokenizerMetadata> = OnceLock::new();
    M.get_or_init(|| {
        TokenizerMetadata::from_hf_files(
            &generated("tokenizer/tokenizer.json"),
            &generated("tokenizer/tokenizer_config.json"),
        )
        .unwrap()
    })
}

fn gguf_metadata() -> &'static TokenizerMetadata {
    static M: OnceLock<TokenizerMetadata> = OnceLock::new();
    M.get_or_init(|| {
        let gguf = dgemma_gguf::GgufFile::open(generated("interop/f32.gguf")).unwrap();
        TokenizerMetadata::from_gguf(&gguf).unwrap()
    })
}

fn gguf_tokenizer() -> &'static GemmaTokenizer {
    static T: OnceLock<GemmaTokenizer> = OnceLock::new();
    T.get_or_init(|| GemmaTokenizer::from_metadata(gguf_metadata()).unwrap())
}

fn check_all_strings(tok: &GemmaTokenizer, source: &str) {
    let r = reference();
    let strings = r["strings"].as_array().unwrap();
    let ids = r["ids"].as_array().unwrap();
    assert_eq!(strings.len(), 1201);
    let mut mismatches = Vec::new();
    for (s, want) in strings.iter().zip(ids) {
        let s = s.as_str().unwrap();
        let want: Vec<u32> = want.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
        let got = tok.encode(s, true, true).unwrap();
        if got != want {
            mismatches.push(format!("{s:?}\n  llama.cpp {want:?}\n  dgemma    {got:?}"));
        }
    }
    assert!(mismatches.is_empty(), "{source}: {} of 1201 differ:\n{}", mismatches.len(), mismatches[..mismatches.len().min(5)].join("\n"));
}

#[test]
fn gguf_tokenizer_gives_llama_cpp_ids_for_all_reference_strings() {
    check_all_strings(gguf_tokenizer(), "interop GGUF");
    assert_eq!(gguf_tokenizer().dropped_merges(), 0, "every merge of the interop file is usable");
}

#[test]
fn hf_rebuilt_metadata_equals_the_gguf_and_gives_the_same_ids() {
    let (hf, gguf) = (hf_metadata(), gguf_metadata());
    assert_eq!(hf.tokens, gguf.tokens, "tokens");
    assert_eq!(hf.token_types, gguf.token_types, "token types");
    assert_eq!(hf.merges, gguf.merges, "merges");
    assert_eq!(
        (hf.bos_id, hf.eos_id, hf.unk_id, hf.pad_id, hf.mask_id),
        (gguf.bos_id, gguf.eos_id, gguf.unk_id, gguf.pad_id, gguf.mask_id)
    );
    assert_eq!(hf.chat_template, gguf.chat_template);
    // Spot-check the conversion rules themselves.
    assert_eq!(gguf.token_types[0..5], [TokenType::Control; 5]);
    assert_eq!(gguf.token_types[gguf.tokens.iter().position(|t| t == "<0x41>").unwrap()], TokenType::Byte);
    assert_eq!(gguf.token_types[gguf.tokens.iter().position(|t| t == "<start_of_turn>").unwrap()], TokenType::Normal);
}

#[test]
fn end_of_turn_is_control_and_end_of_generation_at_load() {
    let tok = gguf_tokenizer();
    let eot = tok.token_id("<end_of_turn>").unwrap();
    assert_eq!(tok.token_type(eot), Some(TokenType::Control));
    assert_eq!(tok.end_of_generation(), &[1, eot]);
    // Parsed whole only with special parsing on.
    assert_eq!(tok.encode("<end_of_turn>", false, true).unwrap(), vec![eot]);
    assert!(tok.encode("<end_of_turn>", false, false).unwrap().len() > 1);
    // <start_of_turn> is NORMAL in the GGUF, so llama.cpp (and dgemma) split it.
    assert!(tok.encode("<start_of_turn>", false, true).unwrap().len() > 1);
}

#[test]
fn decode_round_trips_every_reference_string() {
    let tok = gguf_tokenizer();
    let r = reference();
    let mut failures = Vec::new();
    for (s, ids) in r["strings"].as_array().unwrap().iter().zip(r["ids"].as_array().unwrap()) {
        let s = s.as_str().unwrap();
        let ids: Vec<u32> = ids.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
        assert_eq!(ids[0], 2, "BOS first");
        let text = tok.decode(&ids[1..], true).unwrap();
        if text != s {
            failures.push(format!("{s:?} -> {text:?}"));
        }
        // Without rendering special tokens, BOS disappears.
        assert_eq!(tok.decode(&ids[..1], false).unwrap(), "");
    }
    assert!(failures.is_empty(), "{} strings do not round-trip:\n{}", failures.len(), failures.join("\n"));
    assert!(tok.decode(&[u32::MAX], false).is_err());
}

#[test]
fn chat_template_renders_what_transformers_renders() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(generated("tokenizer/chat_expected.json")).unwrap()).unwrap();
    let tok = gguf_tokenizer();
    let template = ChatTemplate::new(tok.chat_template().expect("GGUF has a chat template")).unwrap();
    let cases = expected["cases"].as_array().unwrap();
    assert!(cases.len() >= 3);
    for case in cases {
        let messages: Vec<ChatMessage> = case["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| ChatMessage { role: m["role"].as_str().unwrap().into(), content: m["content"].as_str().unwrap().into() })
            .collect();
        let text = template.render(&messages, true, &tok.template_tokens()).unwrap();
        assert_eq!(text, case["text"].as_str().unwrap());
    }
    // The prompt ids: one BOS (the template's own <bos> text is not doubled), special tokens
    // parsed, ending with the generation prompt.
    let ids = tok.chat_prompt(None, "Why is the sky blue?").unwrap();
    let text = cases[0]["text"].as_str().unwrap();
    assert_eq!(ids, tok.encode(text.strip_prefix("<bos>").unwrap(), true, true).unwrap());
    assert_eq!(ids.iter().filter(|&&i| i == 2).count(), 1);
    assert_eq!(tok.decode(&ids, true).unwrap(), text);
}
