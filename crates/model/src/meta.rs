//! Typed metadata reads with errors that name the key.

use dgemma_gguf::{GgufFile, Value};

use crate::error::{ModelError, Result};

/// Metadata accessors over a GGUF file.
pub(crate) struct Meta<'f>(pub(crate) &'f GgufFile);

impl<'f> Meta<'f> {
    fn value(&self, key: &str) -> Option<Value<'f>> {
        self.0.get(key)
    }

    fn bad(key: &str, reason: impl Into<String>) -> ModelError {
        ModelError::BadKey { key: key.to_string(), reason: reason.into() }
    }

    fn missing(key: &str) -> ModelError {
        ModelError::MissingKey { key: key.to_string() }
    }

    /// A string value.
    pub(crate) fn str(&self, key: &str) -> Result<&'f str> {
        match self.value(key) {
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(Self::bad(key, format!("expected a string, found {}", v.value_type().name()))),
            None => Err(Self::missing(key)),
        }
    }

    /// An optional non-negative integer of any integer type.
    pub(crate) fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        match self.value(key) {
            None => Ok(None),
            Some(v) => match v.as_integer() {
                Some(i) if i >= 0 && i <= u32::MAX as i128 => Ok(Some(i as usize)),
                Some(i) => Err(Self::bad(key, format!("value {i} out of range"))),
                None => Err(Self::bad(key, format!("expected an integer, found {}", v.value_type().name()))),
            },
        }
    }

    /// A required non-negative integer.
    pub(crate) fn usize(&self, key: &str) -> Result<usize> {
        self.opt_usize(key)?.ok_or_else(|| Self::missing(key))
    }

    /// An optional float (F32 or F64).
    pub(crate) fn opt_f32(&self, key: &str) -> Result<Option<f32>> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::F32(x)) if x.is_finite() => Ok(Some(x)),
            Some(Value::F64(x)) if x.is_finite() => Ok(Some(x as f32)),
            Some(Value::F32(_) | Value::F64(_)) => Err(Self::bad(key, "not a finite number")),
            Some(v) => Err(Self::bad(key, format!("expected a float, found {}", v.value_type().name()))),
        }
    }

    /// A required float.
    pub(crate) fn f32(&self, key: &str) -> Result<f32> {
        self.opt_f32(key)?.ok_or_else(|| Self::missing(key))
    }

    /// A bool array of exactly `n` elements.
    pub(crate) fn bools(&self, key: &str, n: usize) -> Result<Vec<bool>> {
        match self.value(key) {
            Some(Value::Array(arr)) => {
                let v: Vec<bool> = arr
                    .iter()
                    .map(|e| match e {
                        Value::Bool(b) => Ok(b),
                        other => other.as_integer().map(|i| i != 0).ok_or_else(|| Self::bad(key, "expected bool elements")),
                    })
                    .collect::<Result<_>>()?;
                if v.len() != n {
                    return Err(Self::bad(key, format!("{} elements, expected one per layer ({n})", v.len())));
                }
                Ok(v)
            }
            Some(v) => Err(Self::bad(key, format!("expected an array, found {}", v.value_type().name()))),
            None => Err(Self::missing(key)),
        }
    }

    /// A per-layer integer: an array of `n` integers, or one integer for every layer.
    pub(crate) fn per_layer(&self, key: &str, n: usize) -> Result<Vec<usize>> {
        match self.value(key) {
            Some(Value::Array(arr)) => {
                let v: Vec<usize> = arr
                    .iter()
                    .map(|e| match e.as_integer() {
                        Some(i) if i >= 0 && i <= u32::MAX as i128 => Ok(i as usize),
                        _ => Err(Self::bad(key, "expected non-negative integer elements")),
                    })
                    .collect::<Result<_>>()?;
                if v.len() != n {
                    return Err(Self::bad(key, format!("{} elements, expected one per layer ({n})", v.len())));
                }
                Ok(v)
            }
            Some(_) => Ok(vec![self.usize(key)?; n]),
            None => Err(Self::missing(key)),
        }
    }

    /// Fail unless the optional integer `key` is absent or equals `want`.
    pub(crate) fn require_eq(&self, key: &str, want: usize) -> Result<()> {
        match self.opt_usize(key)? {
            Some(v) if v != want => Err(Self::bad(key, format!("{v}, must equal {want}"))),
            _ => Ok(()),
        }
    }

    /// Fail with `reason()` about `key` unless `ok`.
    pub(crate) fn check(&self, key: &str, ok: bool, reason: impl FnOnce() -> String) -> Result<()> {
        if ok {
            Ok(())
        } else {
            Err(Self::bad(key, reason()))
        }
    }
}
