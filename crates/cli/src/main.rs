//! `dgemma`: convert, inspect and run DiffusionGemma GGUF models.

fn main() {
    eprintln!("dgemma: under construction");
}
