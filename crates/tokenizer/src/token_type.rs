//! llama.cpp token types (`tokenizer.ggml.token_type`).

/// What a token is, as stored in GGUF (gguf-py `TokenType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// An ordinary piece of text.
    Normal,
    /// The unknown token.
    Unknown,
    /// A control token (BOS, EOS, turn markers...): matched in text only when special tokens
    /// are parsed, rendered only on request.
    Control,
    /// A user-defined token: always matched in text, always rendered.
    UserDefined,
    /// An unused slot.
    Unused,
    /// A byte-fallback token `<0xNN>`.
    Byte,
}

impl TokenType {
    /// From the GGUF integer (1..=6); `None` for anything else.
    pub fn from_id(id: i32) -> Option<Self> {
        Some(match id {
            1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => return None,
        })
    }

    /// The GGUF integer.
    pub fn id(self) -> i32 {
        match self {
            TokenType::Normal => 1,
            TokenType::Unknown => 2,
            TokenType::Control => 3,
            TokenType::UserDefined => 4,
            TokenType::Unused => 5,
            TokenType::Byte => 6,
        }
    }
}
