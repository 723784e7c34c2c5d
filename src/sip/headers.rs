//! `Headers`: the ordered header list of a message. Order is kept as received (unknown headers
//! too), because proxies must not reorder Via, Route or Record-Route values.

use super::bytestr::ByteStr;
use super::header_name::HeaderName;

/// One header field: a name and its (unfolded, trimmed) value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The header's name.
    pub name: HeaderName,
    /// The value without leading/trailing whitespace; folded lines joined with one space.
    pub value: ByteStr,
}

/// The headers of one message, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    /// An empty list with room for `n` headers.
    pub fn with_capacity(n: usize) -> Self {
        Headers(Vec::with_capacity(n))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&ByteStr> {
        self.0.iter().find(|h| &h.name == name).map(|h| &h.value)
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a ByteStr> + 'a {
        self.0.iter().filter(move |h| &h.name == name).map(|h| &h.value)
    }

    /// How many entries of `name` there are.
    pub fn count(&self, name: &HeaderName) -> usize {
        self.0.iter().filter(|h| &h.name == name).count()
    }

    /// Appends a header at the end.
    pub fn push(&mut self, name: HeaderName, value: impl Into<ByteStr>) {
        self.0.push(Header { name, value: value.into() });
    }

    /// Inserts a header before every other header (used for the proxy's own Via and
    /// Record-Route, which go on top).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<ByteStr>) {
        self.0.insert(0, Header { name, value: value.into() });
    }

    /// Inserts before the first header called `name`, or at the end if there is none; keeps
    /// same-name headers together.
    pub fn insert_first(&mut self, name: HeaderName, value: impl Into<ByteStr>) {
        let pos = self.0.iter().position(|h| h.name == name).unwrap_or(self.0.len());
        self.0.insert(pos, Header { name, value: value.into() });
    }

    /// Removes the first header called `name` and returns its value.
    pub fn remove_first(&mut self, name: &HeaderName) -> Option<ByteStr> {
        let pos = self.0.iter().position(|h| &h.name == name)?;
        Some(self.0.remove(pos).value)
    }

    /// Removes every header called `name`.
    pub fn remove_all(&mut self, name: &HeaderName) {
        self.0.retain(|h| &h.name != name);
    }

    /// Replaces every `name` header by one with `value` (placed where the first one was).
    pub fn set(&mut self, name: HeaderName, value: impl Into<ByteStr>) {
        let value = value.into();
        match self.0.iter().position(|h| h.name == name) {
            Some(pos) => {
                self.0[pos].value = value;
                let mut i = pos + 1;
                while i < self.0.len() {
                    if self.0[i].name == name {
                        self.0.remove(i);
                    } else {
                        i += 1;
                    }
                }
            }
            None => self.0.push(Header { name, value }),
        }
    }

    /// Mutable access to the first value of `name`.
    pub fn get_mut(&mut self, name: &HeaderName) -> Option<&mut ByteStr> {
        self.0.iter_mut().find(|h| &h.name == name).map(|h| &mut h.value)
    }

    /// Iterates over all headers.
    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.0.iter()
    }

    /// Number of header entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
