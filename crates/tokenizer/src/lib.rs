//! Gemma tokenizer built from GGUF `tokenizer.*` metadata, giving llama.cpp's ids, and the
//! checkpoint's chat template.
//!
//! * [`TokenizerMetadata`] reads `tokenizer.ggml.*` (or rebuilds it from Hugging Face files
//!   with the converter's rules, for tests).
//! * [`GemmaTokenizer`] encodes like llama.cpp's `gemma4` tokenizer and decodes.
//! * [`ChatTemplate`] renders `tokenizer.chat_template` like transformers.

mod chat;
mod error;
mod gemma;
mod metadata;
mod special;
mod template_fns;
mod token_type;

pub use chat::{ChatMessage, ChatTemplate, TemplateTokens};
pub use error::TokenizerError;
pub use gemma::GemmaTokenizer;
pub use metadata::{TokenizerMetadata, FORCED_USER_DEFINED};
pub use special::{END_OF_GENERATION_TEXTS, FIM_TEXTS};
pub use token_type::TokenType;

impl GemmaTokenizer {
    /// The special-token texts a chat template may use.
    pub fn template_tokens(&self) -> TemplateTokens {
        let text = |id: Option<u32>| id.and_then(|i| self.token_text(i)).map(str::to_string);
        TemplateTokens {
            bos_token: text(self.bos_id()),
            eos_token: text(self.eos_id()),
            unk_token: None,
            pad_token: text(self.pad_id()),
            mask_token: text(self.mask_id()),
        }
    }

    /// Prompt ids for one user turn (plus an optional system turn) through the embedded chat
    /// template with the generation prompt appended, tokenized with special tokens parsed and
    /// BOS added. A BOS the template writes itself is not doubled (llama.cpp and transformers
    /// both end up with one).
    pub fn chat_prompt(&self, system: Option<&str>, user: &str) -> Result<Vec<u32>, TokenizerError> {
        let source = self
            .chat_template()
            .ok_or_else(|| TokenizerError::Template("the model has no tokenizer.chat_template".into()))?;
        let mut messages = Vec::new();
        if let Some(s) = system {
            messages.push(ChatMessage::system(s));
        }
        messages.push(ChatMessage::user(user));
        let tokens = self.template_tokens();
        let text = ChatTemplate::new(source)?.render(&messages, true, &tokens)?;
        let body = match &tokens.bos_token {
            Some(bos) if self.add_bos() => text.strip_prefix(bos.as_str()).unwrap_or(&text),
            _ => &text,
        };
        self.encode(body, true, true)
    }
}
