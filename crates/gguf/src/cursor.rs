//! A bounds-checked little-endian reader over the file bytes that knows its absolute offset,
//! so every failure can say where it happened. Nothing here can read out of bounds or panic.

use crate::error::{GgufError, Result};

pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    /// Absolute offset of the next byte.
    pub(crate) fn pos(&self) -> u64 {
        self.pos as u64
    }

    /// Bytes left.
    pub(crate) fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    /// The next `n` bytes; fails (naming `what`) if fewer remain.
    pub(crate) fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(GgufError::Truncated {
                offset: self.pos(),
                what: what(),
                needed: n,
                available: self.remaining(),
            });
        }
        // n <= remaining <= usize::MAX, so the cast is exact.
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.bytes[start..self.pos])
    }

    pub(crate) fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N]> {
        let b = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    pub(crate) fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A GGUF string (u64 length + bytes) as raw bytes, with the offset of its first byte.
    pub(crate) fn string_bytes(&mut self, what: &dyn Fn() -> String) -> Result<(u64, &'a [u8])> {
        let len = self.u64(&|| format!("length of {}", what()))?;
        let start = self.pos();
        Ok((start, self.take(len, what)?))
    }

    /// A GGUF string validated as UTF-8.
    pub(crate) fn string(&mut self, what: &dyn Fn() -> String) -> Result<&'a str> {
        let (start, b) = self.string_bytes(what)?;
        std::str::from_utf8(b).map_err(|_| GgufError::InvalidUtf8 { offset: start, what: what() })
    }

    /// Fail unless `count` items of at least `min_size` bytes each can fit in what is left.
    /// Called before any loop or allocation driven by a count read from the file.
    pub(crate) fn check_count(
        &self,
        count: u64,
        min_size: u64,
        count_offset: u64,
        what: &dyn Fn() -> String,
    ) -> Result<()> {
        let fits = count.checked_mul(min_size).is_some_and(|n| n <= self.remaining());
        if fits {
            Ok(())
        } else {
            Err(GgufError::ImplausibleCount {
                offset: count_offset,
                what: what(),
                count,
                min_size,
                available: self.remaining(),
            })
        }
    }
}
