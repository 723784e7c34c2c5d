//! `ByteStr`: an immutable UTF-8 string backed by a shared `Bytes` buffer.
//!
//! The parser slices header values and URIs out of the received datagram without copying; a
//! `ByteStr` keeps that slice alive by reference count. UTF-8 is checked once, at construction,
//! so `as_str` is free afterwards.

use bytes::Bytes;
use std::fmt;
use std::ops::Deref;

/// Immutable, cheaply clonable UTF-8 text sharing the receive buffer.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ByteStr(Bytes);

impl ByteStr {
    /// Wraps a static string without copying.
    pub const fn from_static(s: &'static str) -> Self {
        ByteStr(Bytes::from_static(s.as_bytes()))
    }

    /// Checks `bytes` is UTF-8 and wraps it.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(ByteStr(bytes))
    }

    /// Returns a `ByteStr` for `sub`, which must be a slice of `self`; shares the buffer.
    /// Falls back to a copy when `sub` does not point into `self` (never panics).
    pub fn slice_ref(&self, sub: &str) -> ByteStr {
        match self.offset_of(sub) {
            Some(at) => ByteStr(self.0.slice(at..at + sub.len())),
            None => ByteStr::from(sub.to_owned()),
        }
    }

    /// Where `sub` starts in `self`, when it lies wholly inside `self`'s bytes (an empty
    /// `self` contains nothing).
    pub fn offset_of(&self, sub: &str) -> Option<usize> {
        let at = (sub.as_ptr() as usize).checked_sub(self.0.as_ptr() as usize)?;
        (!self.0.is_empty() && at + sub.len() <= self.0.len()).then_some(at)
    }

    /// A `ByteStr` for `sub`, a slice of the text held in `buf`: shares `buf` without checking
    /// UTF-8 again (`sub` is a `str` already). Copies when `sub` does not point into `buf`.
    pub fn slice_of(buf: &Bytes, sub: &str) -> ByteStr {
        let base = buf.as_ptr() as usize;
        let start = sub.as_ptr() as usize;
        if start >= base && start + sub.len() <= base + buf.len() {
            ByteStr(buf.slice(start - base..start - base + sub.len()))
        } else {
            ByteStr::from(sub)
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor checks or guarantees UTF-8, and `Bytes` is immutable.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The shared buffer.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl From<String> for ByteStr {
    fn from(s: String) -> Self {
        // Through a boxed slice: `Bytes::from(Vec)` allocates a separate shared header when the
        // capacity exceeds the length, as it does for nearly every header value built with
        // room to spare (one allocator call per response before). The shrink that
        // `into_boxed_slice` asks for is done in place by mimalloc while the block keeps at
        // least half its size.
        ByteStr(Bytes::from(s.into_bytes().into_boxed_slice()))
    }
}

impl From<&str> for ByteStr {
    fn from(s: &str) -> Self {
        ByteStr(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl Deref for ByteStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ByteStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ByteStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ByteStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
