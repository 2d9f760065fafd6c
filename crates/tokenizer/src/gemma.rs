//! llama.cpp's `gemma4` tokenizer: special-token partitioning, `▁` whitespace escaping, a
//! `[^\n]+|[\n]+` pre-split, newline runs that are tokens kept whole, and BPE with byte
//! fallback over raw UTF-8 characters (the BPE merge itself is the `tokenizers` crate's).

use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::Model;

use crate::error::TokenizerError;
use crate::metadata::TokenizerMetadata;
use crate::special::{matched_in_text, partition, Fragment, END_OF_GENERATION_TEXTS, FIM_TEXTS};
use crate::token_type::TokenType;

/// The whitespace escape character U+2581.
const SPACE_ESCAPE: char = '\u{2581}';

/// A Gemma tokenizer that gives llama.cpp's ids for a GGUF's `tokenizer.*` metadata.
pub struct GemmaTokenizer {
    tokens: Vec<String>,
    /// Types after llama.cpp's load-time overrides (end-of-generation texts become CONTROL).
    types: Vec<TokenType>,
    /// The BPE model; its vocabulary is also the text → id map (on duplicate texts the last id
    /// wins, as in llama.cpp's `token_to_id`).
    bpe: BPE,
    /// Special-token candidates, longest text first: (id, matched even without parse_special).
    specials: Vec<(u32, bool)>,
    bos_id: Option<u32>,
    eos_id: Option<u32>,
    pad_id: Option<u32>,
    mask_id: Option<u32>,
    add_bos: bool,
    end_of_generation: Vec<u32>,
    chat_template: Option<String>,
    dropped_merges: usize,
}

impl GemmaTokenizer {
    /// Builds the tokenizer from GGUF-shaped metadata.
    pub fn from_metadata(meta: &TokenizerMetadata) -> Result<Self, TokenizerError> {
        if meta.model != "gemma4" {
            return Err(TokenizerError::UnsupportedModel(meta.model.clone()));
        }
        let n = meta.tokens.len();
        let mut ids = Vocab::with_capacity(n);
        for (i, t) in meta.tokens.iter().enumerate() {
            ids.insert(t.clone(), i as u32);
        }
        let mut types = meta.token_types.clone();
        let mut end_of_generation: Vec<u32> = meta.eos_id.into_iter().collect();
        for text in END_OF_GENERATION_TEXTS {
            if let Some(&id) = ids.get(text) {
                types[id as usize] = TokenType::Control;
                if !end_of_generation.contains(&id) {
                    end_of_generation.push(id);
                }
            }
        }
        for text in FIM_TEXTS {
            if let Some(&id) = ids.get(text) {
                types[id as usize] = TokenType::Control;
            }
        }

        // llama.cpp splits each merge at the first space at index >= 1 and keeps the parts as
        // they are. A merge whose parts or result are not tokens can never produce a token
        // there; the `tokenizers` BPE refuses such merges, so they are left out (and counted).
        let mut merges = Vec::with_capacity(meta.merges.len());
        let mut dropped_merges = 0;
        let mut joined = String::new();
        for m in &meta.merges {
            let split = m.char_indices().skip(1).find(|&(_, c)| c == ' ').map(|(i, _)| i);
            let Some(at) = split else {
                dropped_merges += 1;
                continue;
            };
            let (a, b) = (&m[..at], &m[at + 1..]);
            joined.clear();
            joined.push_str(a);
            joined.push_str(b);
            if ids.contains_key(a) && ids.contains_key(b) && ids.contains_key(joined.as_str()) {
                merges.push((a.to_string(), b.to_string()));
            } else {
                dropped_merges += 1;
            }
        }
        let bpe = BPE::builder()
            .vocab_and_merges(ids, merges)
            .byte_fallback(true)
            .build()
            .map_err(|e| TokenizerError::Bpe(e.to_string()))?;

        let mut specials: Vec<(u32, bool)> = types
            .iter()
            .enumerate()
            .filter(|(i, t)| matched_in_text(**t, true) && !meta.tokens[*i].is_empty())
            .map(|(i, t)| (i as u32, matched_in_text(*t, false)))
            .collect();
        // Longest text first; equal lengths by id so the order is deterministic.
        specials.sort_by(|a, b| {
            let (la, lb) = (meta.tokens[a.0 as usize].len(), meta.tokens[b.0 as usize].len());
            lb.cmp(&la).then(a.0.cmp(&b.0))
        });

        Ok(GemmaTokenizer {
            tokens: meta.tokens.clone(),
            types,
            bpe,
            specials,
            bos_id: meta.bos_id,
            eos_id: meta.eos_id,
            pad_id: meta.pad_id,
            mask_id: meta.mask_id,
            // llama.cpp forces BOS on for the gemma4 tokenizer.
            add_bos: true,
            end_of_generation,
            chat_template: meta.chat_template.clone(),
            dropped_merges,
        })
    }

    /// Reads the metadata of a GGUF file and builds the tokenizer.
    pub fn from_gguf(gguf: &dgemma_gguf::GgufFile) -> Result<Self, TokenizerError> {
        Self::from_metadata(&TokenizerMetadata::from_gguf(gguf)?)
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// Token text as stored (spaces as `▁`).
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// Token type after llama.cpp's load-time overrides.
    pub fn token_type(&self, id: u32) -> Option<TokenType> {
        self.types.get(id as usize).copied()
    }

    /// Id of a token text.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.bpe.token_to_id(text)
    }

    /// BOS id.
    pub fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }
    /// EOS id.
    pub fn eos_id(&self) -> Option<u32> {
        self.eos_id
    }
    /// Padding id.
    pub fn pad_id(&self) -> Option<u32> {
        self.pad_id
    }
    /// Mask id.
    pub fn mask_id(&self) -> Option<u32> {
        self.mask_id
    }
    /// Whether [`GemmaTokenizer::encode`] prepends BOS when asked to add special tokens.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }
    /// The embedded Jinja chat template.
    pub fn chat_template(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }
    /// Merges left out because they can never produce a token (see `from_metadata`).
    pub fn dropped_merges(&self) -> usize {
        self.dropped_merges
    }

    /// End-of-generation ids: EOS plus the tokens whose text llama.cpp treats as end of
    /// generation (`<end_of_turn>`, `<turn|>`, `<|tool_response>`, ...).
    pub fn end_of_generation(&self) -> &[u32] {
        &self.end_of_generation
    }

    /// Tokenizes like `llama_tokenize(text, add_special, parse_special)`: BOS first when
    /// `add_bos`; special tokens recognised in the text when `parse_special` (USER_DEFINED
    /// tokens always).
    pub fn encode(&self, text: &str, add_bos: bool, parse_special: bool) -> Result<Vec<u32>, TokenizerError> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_bos && self.add_bos {
            if let Some(bos) = self.bos_id {
                out.push(bos);
            }
        }
        let specials: Vec<(u32, &str)> = self
            .specials
            .iter()
            .filter(|(_, always)| parse_special || *always)
            .map(|&(id, _)| (id, self.tokens[id as usize].as_str()))
            .collect();
        let (mut frags, mut scratch) = (Vec::new(), Vec::new());
        partition(text, &specials, &mut frags, &mut scratch);
        let mut escaped = String::new();
        for frag in frags {
            match frag {
                Fragment::Token(id) => out.push(id),
                Fragment::Text(start, end) => {
                    escaped.clear();
                    escaped.extend(text[start..end].chars().map(|c| if c == ' ' { SPACE_ESCAPE } else { c }));
                    self.encode_escaped(&escaped, &mut out)?;
                }
            }
        }
        Ok(out)
    }

    /// Pre-splits into runs of newlines and runs of everything else, then BPE per run.
    fn encode_escaped(&self, text: &str, out: &mut Vec<u32>) -> Result<(), TokenizerError> {
        let bytes = text.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            let newline = bytes[start] == b'\n';
            let end = bytes[start..]
                .iter()
                .position(|&b| (b == b'\n') != newline)
                .map_or(bytes.len(), |p| start + p);
            let run = &text[start..end];
            // A run of newlines that is itself a token stays whole (llama.cpp skips BPE).
            match (newline, self.bpe.token_to_id(run)) {
                (true, Some(id)) => out.push(id),
                _ => self.bpe_run(run, out)?,
            }
            start = end;
        }
        Ok(())
    }

    fn bpe_run(&self, run: &str, out: &mut Vec<u32>) -> Result<(), TokenizerError> {
        let pieces = self.bpe.tokenize(run).map_err(|e| TokenizerError::Bpe(e.to_string()))?;
        for p in pieces {
            out.push(p.id);
        }
        Ok(())
    }

    /// Appends the bytes token `id` stands for: NORMAL and USER_DEFINED text with `▁` as a
    /// space, a BYTE token's byte, CONTROL/UNKNOWN text only when `render_special`.
    pub fn piece_bytes(&self, id: u32, render_special: bool, out: &mut Vec<u8>) -> Result<(), TokenizerError> {
        let text = self
            .tokens
            .get(id as usize)
            .ok_or(TokenizerError::TokenOutOfRange { id, vocab: self.tokens.len() })?;
        match self.types[id as usize] {
            TokenType::Byte => match text.get(3..5).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) if crate::metadata::is_byte_token(text) => out.push(b),
                _ => out.extend_from_slice(text.as_bytes()),
            },
            TokenType::Control | TokenType::Unknown | TokenType::Unused => {
                if render_special {
                    out.extend_from_slice(text.as_bytes());
                }
            }
            TokenType::Normal | TokenType::UserDefined => {
                let mut buf = [0u8; 4];
                for c in text.chars() {
                    let c = if c == SPACE_ESCAPE { ' ' } else { c };
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        Ok(())
    }

    /// Detokenizes: pieces concatenated, byte tokens re-assembled into UTF-8 (invalid
    /// sequences become U+FFFD).
    pub fn decode(&self, ids: &[u32], render_special: bool) -> Result<String, TokenizerError> {
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            self.piece_bytes(id, render_special, &mut bytes)?;
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy vocabulary: the five specials, 256 byte tokens, a few pieces and merges.
    fn toy() -> GemmaTokenizer {
        let mut tokens: Vec<String> = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"].map(String::from).to_vec();
        let mut types = vec![TokenType::Control; 5];
        for b in 0..256 {
            tokens.push(format!("<0x{b:02X}>"));
            types.push(TokenType::Byte);
        }
        for (t, ty) in [
            ("a", TokenType::Normal),
            ("b", TokenType::Normal),
            ("ab", TokenType::Normal),
            ("▁", TokenType::Normal),
            ("▁a", TokenType::Normal),
            ("\n", TokenType::Normal),
            ("\n\n", TokenType::Normal),
            ("\n\n\n", TokenType::Normal),
            ("<ctl>", TokenType::Control),
            ("<ud>", TokenType::UserDefined),
            ("<end_of_turn>", TokenType::Normal),
        ] {
            tokens.push(t.to_string());
            types.push(ty);
        }
        let meta = TokenizerMetadata {
            model: "gemma4".into(),
            token_types: types,
            merges: vec!["a b".into(), "▁ a".into(), "\n \n".into(), "x".into(), "b b".into()],
            tokens,
            scores: None,
            bos_id: Some(2),
            eos_id: Some(1),
            unk_id: Some(3),
            pad_id: Some(0),
            mask_id: Some(4),
            add_bos: true,
            add_space_prefix: false,
            chat_template: None,
        };
        GemmaTokenizer::from_metadata(&meta).unwrap()
    }

    #[test]
    fn merges_escaping_byte_fallback_and_newline_runs() {
        let t = toy();
        let id = |s: &str| t.token_id(s).unwrap();
        assert_eq!(t.dropped_merges(), 2, "the merge without a space and the one whose result is no token");
        assert_eq!(t.encode("ab a", true, true).unwrap(), vec![2, id("ab"), id("▁a")]);
        // 'é' has no token: its two UTF-8 bytes.
        assert_eq!(t.encode("é", false, true).unwrap(), vec![id("<0xC3>"), id("<0xA9>")]);
        // A newline run that is a token stays whole even where BPE would not build it (no merge
        // makes "\n\n\n"); other runs go through BPE.
        assert_eq!(t.encode("a\n\n\nb", false, true).unwrap(), vec![id("a"), id("\n\n\n"), id("b")]);
        assert_eq!(t.encode("\n\n\n\n", false, true).unwrap(), vec![id("\n\n"), id("\n\n")]);
        assert_eq!(t.encode("bb", false, true).unwrap(), vec![id("b"), id("b")]);
    }

    #[test]
    fn special_tokens_follow_llama_cpp_rules() {
        let t = toy();
        let id = |s: &str| t.token_id(s).unwrap();
        // CONTROL only with parse_special; USER_DEFINED always.
        assert_eq!(t.encode("a<ctl>", false, true).unwrap(), vec![id("a"), id("<ctl>")]);
        assert!(t.encode("a<ctl>", false, false).unwrap().len() > 2);
        assert_eq!(t.encode("<ud>b", false, false).unwrap(), vec![id("<ud>"), id("b")]);
        // <end_of_turn> is forced to CONTROL at load and is end-of-generation.
        assert_eq!(t.token_type(id("<end_of_turn>")), Some(TokenType::Control));
        assert_eq!(t.end_of_generation(), &[1, id("<end_of_turn>")]);
        // Decoding: ▁ -> space, bytes re-assembled, control text only on request.
        let ids = t.encode("<ctl>ab aé", true, true).unwrap();
        assert_eq!(t.decode(&ids, false).unwrap(), "ab aé");
        assert_eq!(t.decode(&ids, true).unwrap(), "<bos><ctl>ab aé");
    }

    #[test]
    fn bad_metadata_is_an_error() {
        let t = toy();
        assert!(matches!(t.decode(&[9999], false), Err(TokenizerError::TokenOutOfRange { id: 9999, .. })));
        let meta = TokenizerMetadata {
            model: "llama".into(),
            tokens: vec!["a".into()],
            token_types: vec![TokenType::Normal],
            merges: vec![],
            scores: None,
            bos_id: None,
            eos_id: None,
            unk_id: None,
            pad_id: None,
            mask_id: None,
            add_bos: true,
            add_space_prefix: false,
            chat_template: None,
        };
        assert!(matches!(GemmaTokenizer::from_metadata(&meta), Err(TokenizerError::UnsupportedModel(_))));
    }
}
