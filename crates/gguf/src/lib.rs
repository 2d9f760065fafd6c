//! GGUF v2/v3: a validating, zero-copy reader over a memory map, and a writer whose bytes match
//! gguf-py's `GGUFWriter`. [`arch`] holds the DiffusionGemma key and tensor names shared by the
//! converter and the loader.

pub mod arch;
