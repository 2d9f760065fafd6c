//! Subcommands, one module each.

pub mod convert;
pub mod info;
pub mod quantize;
pub mod tokenize;
