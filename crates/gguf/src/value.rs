//! Metadata values: the 13 GGUF value types, a borrowed [`Value`] and lazily decoded arrays.
//!
//! Values borrow from the file bytes. Arrays keep their raw (already validated) bytes and decode
//! elements on demand, so a 262k-token vocabulary costs no allocation until a caller asks.

use std::fmt;

/// A GGUF metadata value type id (u32 in the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ValueType {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

impl ValueType {
    /// Every value type, in id order.
    pub const ALL: [ValueType; 13] = [
        Self::U8, Self::I8, Self::U16, Self::I16, Self::U32, Self::I32, Self::F32, Self::Bool,
        Self::String, Self::Array, Self::U64, Self::I64, Self::F64,
    ];

    /// The type with this id, if any.
    pub fn from_id(id: u32) -> Option<Self> {
        Self::ALL.get(usize::try_from(id).ok()?).copied()
    }

    /// The u32 stored in the file.
    pub fn id(self) -> u32 {
        self as u32
    }

    /// Payload size of a fixed-size type; `None` for strings and arrays.
    pub fn fixed_size(self) -> Option<usize> {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => Some(1),
            U16 | I16 => Some(2),
            U32 | I32 | F32 => Some(4),
            U64 | I64 | F64 => Some(8),
            String | Array => None,
        }
    }

    /// gguf-py's name for the type (`UINT32`, `STRING`, ...).
    pub fn name(self) -> &'static str {
        use ValueType::*;
        match self {
            U8 => "UINT8", I8 => "INT8", U16 => "UINT16", I16 => "INT16", U32 => "UINT32",
            I32 => "INT32", F32 => "FLOAT32", Bool => "BOOL", String => "STRING",
            Array => "ARRAY", U64 => "UINT64", I64 => "INT64", F64 => "FLOAT64",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One metadata value, borrowing strings and array bytes from the file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(&'a str),
    Array(ArrayValue<'a>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl<'a> Value<'a> {
    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::F32(_) => ValueType::F32,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F64(_) => ValueType::F64,
        }
    }

    /// Any integer type as `i128` (so every GGUF integer fits); `None` for other types.
    pub fn as_integer(&self) -> Option<i128> {
        Some(match *self {
            Value::U8(v) => v.into(),
            Value::I8(v) => v.into(),
            Value::U16(v) => v.into(),
            Value::I16(v) => v.into(),
            Value::U32(v) => v.into(),
            Value::I32(v) => v.into(),
            Value::U64(v) => v.into(),
            Value::I64(v) => v.into(),
            _ => return None,
        })
    }

    /// Decode one fixed-size scalar of type `t` from exactly `t.fixed_size()` bytes (`None` for
    /// another length). Bool bytes other than 0 read as true (the parser rejects them earlier).
    pub(crate) fn decode_scalar(t: ValueType, b: &[u8]) -> Option<Value<'static>> {
        Some(match t {
            ValueType::U8 => Value::U8(u8::from_le_bytes(b.try_into().ok()?)),
            ValueType::I8 => Value::I8(i8::from_le_bytes(b.try_into().ok()?)),
            ValueType::Bool => Value::Bool(u8::from_le_bytes(b.try_into().ok()?) != 0),
            ValueType::U16 => Value::U16(u16::from_le_bytes(b.try_into().ok()?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(b.try_into().ok()?)),
            ValueType::U32 => Value::U32(u32::from_le_bytes(b.try_into().ok()?)),
            ValueType::I32 => Value::I32(i32::from_le_bytes(b.try_into().ok()?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(b.try_into().ok()?)),
            ValueType::U64 => Value::U64(u64::from_le_bytes(b.try_into().ok()?)),
            ValueType::I64 => Value::I64(i64::from_le_bytes(b.try_into().ok()?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(b.try_into().ok()?)),
            ValueType::String | ValueType::Array => return None,
        })
    }
}

/// An array value: element type, length and the validated element bytes as stored
/// (little-endian scalars back to back, or u64-length-prefixed strings).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArrayValue<'a> {
    pub(crate) elem_type: ValueType,
    pub(crate) len: usize,
    pub(crate) raw: &'a [u8],
}

impl<'a> ArrayValue<'a> {
    /// Element type (never `Array`).
    pub fn elem_type(&self) -> ValueType {
        self.elem_type
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The element bytes exactly as stored in the file.
    pub fn raw_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// Iterate the elements as [`Value`]s.
    pub fn iter(&self) -> ArrayIter<'a> {
        ArrayIter { elem_type: self.elem_type, rest: self.raw, left: self.len }
    }

    /// The elements as `&str` if this is an array of strings.
    pub fn strs(&self) -> Option<impl Iterator<Item = &'a str> + 'a> {
        (self.elem_type == ValueType::String).then(|| {
            self.iter().map(|v| match v {
                Value::String(s) => s,
                _ => "",
            })
        })
    }

    /// The elements as a `Vec<T>` if the element type is exactly `T`'s.
    pub fn to_vec<T: ArrayElem>(&self) -> Option<Vec<T>> {
        (self.elem_type == T::TYPE).then(|| self.raw.chunks_exact(T::SIZE).map(T::decode).collect())
    }
}

/// Iterator over an [`ArrayValue`]'s elements.
#[derive(Clone, Debug)]
pub struct ArrayIter<'a> {
    elem_type: ValueType,
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The parser validated the bytes, so the `?`s below only guard against misuse.
        if self.elem_type == ValueType::String {
            let len_bytes: [u8; 8] = self.rest.get(..8)?.try_into().ok()?;
            let len = usize::try_from(u64::from_le_bytes(len_bytes)).ok()?;
            let s = self.rest.get(8..8usize.checked_add(len)?)?;
            self.rest = &self.rest[8 + len..];
            return Some(Value::String(std::str::from_utf8(s).ok()?));
        }
        let size = self.elem_type.fixed_size()?;
        let b = self.rest.get(..size)?;
        self.rest = &self.rest[size..];
        Value::decode_scalar(self.elem_type, b)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// A fixed-size scalar that can be an array element: maps a Rust type to its GGUF type and
/// little-endian encoding. Used by array readers and the writer.
pub trait ArrayElem: Copy {
    /// The GGUF element type.
    const TYPE: ValueType;
    /// Encoded size in bytes.
    const SIZE: usize;
    /// Decode from exactly `SIZE` bytes (callers slice with `chunks_exact`; another length panics).
    fn decode(b: &[u8]) -> Self;
    /// Append the encoding to `out`.
    fn encode(self, out: &mut Vec<u8>);
}

macro_rules! array_elem_num {
    ($($t:ty => $vt:ident),* $(,)?) => {$(
        impl ArrayElem for $t {
            const TYPE: ValueType = ValueType::$vt;
            const SIZE: usize = std::mem::size_of::<$t>();
            fn decode(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_le_bytes(a)
            }
            fn encode(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}

array_elem_num!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, f32 => F32,
    u64 => U64, i64 => I64, f64 => F64);

impl ArrayElem for bool {
    const TYPE: ValueType = ValueType::Bool;
    const SIZE: usize = 1;
    fn decode(b: &[u8]) -> Self {
        b[0] != 0
    }
    fn encode(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
}
