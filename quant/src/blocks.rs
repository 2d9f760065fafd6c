//! Block layouts, byte for byte as ggml's `ggml-common.h` declares them.
//!
//! Every struct is `#[repr(C)]` with only byte-array and `u16`/`f32` fields whose offsets match
//! ggml; sizes are asserted at compile time. `f16` scales are stored as raw `u16` bits (use
//! [`f16_to_f32`]) so the structs are `Pod` and can be viewed straight out of a mmap'd file with
//! `bytemuck::cast_slice` when the data is 2-byte aligned (GGUF tensor data is 32-byte aligned).

use bytemuck::{Pod, Zeroable};

/// Elements per block of the legacy formats.
pub const QK4_0: usize = 32;
/// Elements per block of Q8_0.
pub const QK8_0: usize = 32;
/// Elements per super-block of the K-quants.
pub const QK_K: usize = 256;
/// Bytes of packed 6-bit scales/mins in Q4_K and Q5_K.
pub const K_SCALE_SIZE: usize = 12;

/// Decode a stored binary16 value.
#[inline]
pub fn f16_to_f32(bits: u16) -> f32 {
    half::f16::from_bits(bits).to_f32()
}

/// Encode a value as binary16, round to nearest even.
#[inline]
pub fn f32_to_f16(x: f32) -> u16 {
    half::f16::from_f32(x).to_bits()
}

/// Q4_0: `x = d * (q - 8)`, 4-bit q; element j in the low nibble of qs[j], j+16 in the high one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ4_0 {
    pub d: u16,
    pub qs: [u8; QK4_0 / 2],
}

/// Q4_1: `x = d * q + m`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ4_1 {
    pub d: u16,
    pub m: u16,
    pub qs: [u8; QK4_0 / 2],
}

/// Q5_0: `x = d * (q - 16)`, fifth bits in `qh` (little-endian u32, bit j for element j).
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ5_0 {
    pub d: u16,
    pub qh: [u8; 4],
    pub qs: [u8; QK4_0 / 2],
}

/// Q5_1: `x = d * q + m`, fifth bits as Q5_0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ5_1 {
    pub d: u16,
    pub m: u16,
    pub qh: [u8; 4],
    pub qs: [u8; QK4_0 / 2],
}

/// Q8_0: `x = d * q`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ8_0 {
    pub d: u16,
    pub qs: [i8; QK8_0],
}

/// Q8_1 (activation format of some ggml kernels): `d`, `s = d * sum(qs)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ8_1 {
    pub d: u16,
    pub s: u16,
    pub qs: [i8; QK8_0],
}

/// Q2_K: 16 sub-blocks of 16, 2-bit q, 4-bit scale and min per sub-block.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ2K {
    pub scales: [u8; QK_K / 16],
    pub qs: [u8; QK_K / 4],
    pub d: u16,
    pub dmin: u16,
}

/// Q3_K: 16 sub-blocks of 16, 3-bit q (2 low bits in qs, high bit in hmask), 6-bit scales.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ3K {
    pub hmask: [u8; QK_K / 8],
    pub qs: [u8; QK_K / 4],
    pub scales: [u8; 12],
    pub d: u16,
}

/// Q4_K: 8 sub-blocks of 32, 4-bit q, 6-bit scale and min per sub-block.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ4K {
    pub d: u16,
    pub dmin: u16,
    pub scales: [u8; K_SCALE_SIZE],
    pub qs: [u8; QK_K / 2],
}

/// Q5_K: as Q4_K plus one high bit per element in `qh`.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ5K {
    pub d: u16,
    pub dmin: u16,
    pub scales: [u8; K_SCALE_SIZE],
    pub qh: [u8; QK_K / 8],
    pub qs: [u8; QK_K / 2],
}

/// Q6_K: 16 sub-blocks of 16, 6-bit q (4 low bits in ql, 2 high in qh), signed 8-bit scales.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ6K {
    pub ql: [u8; QK_K / 2],
    pub qh: [u8; QK_K / 4],
    pub scales: [i8; QK_K / 16],
    pub d: u16,
}

/// Q8_K (activation format for K-quant dots): f32 scale, 8-bit q, sums of each 16 q.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ8K {
    pub d: f32,
    pub qs: [i8; QK_K],
    pub bsums: [i16; QK_K / 16],
}

const _: () = {
    assert!(std::mem::size_of::<BlockQ4_0>() == 18);
    assert!(std::mem::size_of::<BlockQ4_1>() == 20);
    assert!(std::mem::size_of::<BlockQ5_0>() == 22);
    assert!(std::mem::size_of::<BlockQ5_1>() == 24);
    assert!(std::mem::size_of::<BlockQ8_0>() == 34);
    assert!(std::mem::size_of::<BlockQ8_1>() == 36);
    assert!(std::mem::size_of::<BlockQ2K>() == 84);
    assert!(std::mem::size_of::<BlockQ3K>() == 110);
    assert!(std::mem::size_of::<BlockQ4K>() == 144);
    assert!(std::mem::size_of::<BlockQ5K>() == 176);
    assert!(std::mem::size_of::<BlockQ6K>() == 210);
    assert!(std::mem::size_of::<BlockQ8K>() == 292);
};
