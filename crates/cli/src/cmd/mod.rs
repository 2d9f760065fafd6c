//! Subcommands, one module each.

pub mod info;
