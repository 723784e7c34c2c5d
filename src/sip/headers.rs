//! `Headers`: the ordered header list of a message. Order is kept as received (unknown headers
//! too), because proxies must not reorder Via, Route or Record-Route values.
//!
//! A received message's values are spans of its header block, which the list holds once: a
//! value costs two integers, not a reference count on the datagram (each count is an atomic
//! increment at parse and a decrement at drop; ~11 headers a message made them 4% of the CPU at
//! the REGISTER top, perf). Values added or replaced later, and values of folded lines (joined
//! into a new string), are held as their own `ByteStr`. `get` returns `&str`; a caller that
//! keeps a value beyond the message asks for a shared copy (`share`).

use super::bytestr::ByteStr;
use super::header_name::HeaderName;

/// Where a header's value lives.
#[derive(Clone, Debug)]
enum Value {
    /// `start..start + len` of the list's header block.
    Span { start: u32, len: u32 },
    /// Text of its own (added by this node, or a folded line joined).
    Own(ByteStr),
}

/// One header field as stored: a name and where its value is.
#[derive(Clone, Debug)]
struct Entry {
    name: HeaderName,
    value: Value,
}

/// One header field as seen: its name and (unfolded, trimmed) value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The header's name.
    pub name: &'a HeaderName,
    /// The value without leading/trailing whitespace; folded lines joined with one space.
    pub value: &'a str,
}

/// The text of `v`, a value of a list whose header block is `block`.
#[inline]
fn span_text<'a>(block: &'a ByteStr, v: &'a Value) -> &'a str {
    match v {
        Value::Span { start, len } => {
            let (start, end) = (*start as usize, *start as usize + *len as usize);
            debug_assert!(block.as_str().get(start..end).is_some());
            // SAFETY: a span is only made by `span_of`, from a `str` slice lying inside
            // `block` (so `start..end` is in bounds and on char boundaries), and only kept with
            // that block (`push_from` copies spans between lists sharing it; `Clone` clones
            // both); `block` is immutable and never reassigned. Checked slicing made spans cost
            // more instructions than the reference counts they replace (round 10 dropped them
            // for that; docs/benchmarks.md), as the proxy reads some header on every step.
            unsafe { block.as_str().get_unchecked(start..end) }
        }
        Value::Own(s) => s.as_str(),
    }
}

/// The headers of one message, in order.
#[derive(Clone, Debug, Default)]
pub struct Headers {
    /// The received header block the spans index (empty for a built message).
    block: ByteStr,
    list: Vec<Entry>,
}

impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl Eq for Headers {}

impl Headers {
    /// An empty list with room for `n` headers.
    pub fn with_capacity(n: usize) -> Self {
        Headers { block: ByteStr::default(), list: Vec::with_capacity(n) }
    }

    /// An empty list whose spans will index `block` (the parser's).
    pub(crate) fn over(block: ByteStr, n: usize) -> Self {
        Headers { block, list: Vec::with_capacity(n) }
    }

    /// An empty list sharing this one's header block, so that values copied from it with
    /// [`Headers::push_from`] stay spans (a response built from its request).
    pub(crate) fn sharing(&self, n: usize) -> Self {
        Headers { block: self.block.clone(), list: Vec::with_capacity(n) }
    }

    /// Appends `value`, a slice of this list's header block, as a span; a slice of anything
    /// else is copied (never happens from the parser, which passes slices of the block).
    pub(crate) fn push_span(&mut self, name: HeaderName, value: &str) {
        let value = self.span_of(value).unwrap_or_else(|| Value::Own(ByteStr::from(value)));
        self.list.push(Entry { name, value });
    }

    /// Appends the `i`-th header of `from`, which must share this list's block (see
    /// [`Headers::sharing`]): a span stays a span.
    pub(crate) fn push_from(&mut self, from: &Headers, i: usize) {
        if let Some(e) = from.list.get(i) {
            let value = match &e.value {
                Value::Span { .. } if from.block.as_ptr() == self.block.as_ptr() && from.block.len() == self.block.len() => e.value.clone(),
                Value::Span { .. } => Value::Own(from.shared(&e.value)),
                Value::Own(v) => Value::Own(v.clone()),
            };
            self.list.push(Entry { name: e.name.clone(), value });
        }
    }

    fn span_of(&self, sub: &str) -> Option<Value> {
        let start = self.block.offset_of(sub)?;
        Some(Value::Span { start: u32::try_from(start).ok()?, len: u32::try_from(sub.len()).ok()? })
    }

    #[inline]
    fn text<'a>(&'a self, v: &'a Value) -> &'a str {
        span_text(&self.block, v)
    }

    fn shared(&self, v: &Value) -> ByteStr {
        match v {
            Value::Span { .. } => self.block.slice_ref(self.text(v)),
            Value::Own(s) => s.clone(),
        }
    }

    /// A `ByteStr` for `sub`, a slice of one of this list's values: shares the message's bytes
    /// (one reference count) instead of copying; copies when `sub` is not from this list.
    pub fn share(&self, sub: &str) -> ByteStr {
        let owner = std::iter::once(&self.block)
            .chain(self.list.iter().filter_map(|e| match &e.value {
                Value::Own(s) => Some(s),
                Value::Span { .. } => None,
            }))
            .find(|b| b.offset_of(sub).is_some());
        match owner {
            Some(b) => b.slice_ref(sub),
            None => ByteStr::from(sub),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.list.iter().find(|h| &h.name == name).map(|h| self.text(&h.value))
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.list.iter().filter(move |h| &h.name == name).map(|h| self.text(&h.value))
    }

    /// How many entries of `name` there are.
    pub fn count(&self, name: &HeaderName) -> usize {
        self.list.iter().filter(|h| &h.name == name).count()
    }

    /// Appends a header at the end.
    pub fn push(&mut self, name: HeaderName, value: impl Into<ByteStr>) {
        self.list.push(Entry { name, value: Value::Own(value.into()) });
    }

    /// Inserts a header before every other header (used for the proxy's own Via and
    /// Record-Route, which go on top).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<ByteStr>) {
        self.list.insert(0, Entry { name, value: Value::Own(value.into()) });
    }

    /// Inserts before the first header called `name`, or at the end if there is none; keeps
    /// same-name headers together.
    pub fn insert_first(&mut self, name: HeaderName, value: impl Into<ByteStr>) {
        let pos = self.list.iter().position(|h| h.name == name).unwrap_or(self.list.len());
        self.list.insert(pos, Entry { name, value: Value::Own(value.into()) });
    }

    /// Removes the first header called `name`; whether there was one. (The value is not
    /// returned: no caller wants it, and a span would need a reference count to outlive it.)
    pub fn remove_first(&mut self, name: &HeaderName) -> bool {
        match self.list.iter().position(|h| &h.name == name) {
            Some(pos) => {
                self.list.remove(pos);
                true
            }
            None => false,
        }
    }

    /// Removes the last header called `name` and returns its value.
    pub fn remove_last(&mut self, name: &HeaderName) -> Option<ByteStr> {
        let pos = self.list.iter().rposition(|h| &h.name == name)?;
        let e = self.list.remove(pos);
        Some(self.shared(&e.value))
    }

    /// Removes every header called `name`.
    pub fn remove_all(&mut self, name: &HeaderName) {
        self.list.retain(|h| &h.name != name);
    }

    /// Removes the headers called `name` whose value `drop` returns true for.
    pub fn remove_where(&mut self, name: &HeaderName, mut drop: impl FnMut(&str) -> bool) {
        let block = &self.block;
        self.list.retain(|e| &e.name != name || !drop(span_text(block, &e.value)));
    }

    /// Removes the `n`th (from 0) `name` header; false if there are not that many.
    pub fn remove_nth(&mut self, name: &HeaderName, n: usize) -> bool {
        match self.list.iter().enumerate().filter(|(_, e)| &e.name == name).nth(n) {
            Some((i, _)) => {
                self.list.remove(i);
                true
            }
            None => false,
        }
    }

    /// Replaces every `name` header by one with `value` (placed where the first one was).
    pub fn set(&mut self, name: HeaderName, value: impl Into<ByteStr>) {
        let value = Value::Own(value.into());
        match self.list.iter().position(|h| h.name == name) {
            Some(pos) => {
                self.list[pos].value = value;
                let mut i = pos + 1;
                while i < self.list.len() {
                    if self.list[i].name == name {
                        self.list.remove(i);
                    } else {
                        i += 1;
                    }
                }
            }
            None => self.list.push(Entry { name, value }),
        }
    }

    /// Replaces the first value of `name` with `value`; false if there is none.
    pub fn replace_first(&mut self, name: &HeaderName, value: impl Into<ByteStr>) -> bool {
        match self.list.iter_mut().find(|h| &h.name == name) {
            Some(h) => {
                h.value = Value::Own(value.into());
                true
            }
            None => false,
        }
    }

    /// Iterates over all headers.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Header<'_>> + ExactSizeIterator + Clone + '_ {
        self.list.iter().map(move |e| Header { name: &e.name, value: self.text(&e.value) })
    }

    /// Drops the entries after the first `len` (the parser's undo of a list line it refused).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.list.truncate(len);
    }

    /// Number of header entries.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_nth_counts_only_that_name() {
        let mut h = Headers::default();
        h.push(HeaderName::ProxyAuthorization, "a");
        h.push(HeaderName::Via, "v");
        h.push(HeaderName::ProxyAuthorization, "b");
        h.push(HeaderName::ProxyAuthorization, "c");
        assert!(h.remove_nth(&HeaderName::ProxyAuthorization, 1));
        assert_eq!(h.get_all(&HeaderName::ProxyAuthorization).collect::<Vec<_>>(), ["a", "c"]);
        assert!(!h.remove_nth(&HeaderName::ProxyAuthorization, 2));
        assert!(h.remove_nth(&HeaderName::ProxyAuthorization, 0));
        assert_eq!(h.get_all(&HeaderName::ProxyAuthorization).collect::<Vec<_>>(), ["c"]);
        assert_eq!(h.get(&HeaderName::Via), Some("v"));
    }

    fn parsed() -> Headers {
        let block = ByteStr::from("Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\nTo: <sip:b@c>\r\n");
        let mut h = Headers::over(block.clone(), 2);
        let text = block.as_str();
        h.push_span(HeaderName::Via, &text[5..34]);
        h.push_span(HeaderName::To, &text[40..49]);
        h
    }

    #[test]
    fn spans_read_back_and_survive_clone_and_edits() {
        let mut h = parsed();
        assert_eq!(h.get(&HeaderName::Via), Some("SIP/2.0/UDP a;branch=z9hG4bK1"));
        assert_eq!(h.get(&HeaderName::To), Some("<sip:b@c>"));
        let c = h.clone();
        h.push_front(HeaderName::Via, "SIP/2.0/UDP me;branch=z9hG4bKx");
        assert_eq!(h.get_all(&HeaderName::Via).collect::<Vec<_>>(), ["SIP/2.0/UDP me;branch=z9hG4bKx", "SIP/2.0/UDP a;branch=z9hG4bK1"]);
        assert_eq!(c.len(), 2);
        assert!(h.replace_first(&HeaderName::To, "<sip:b@c>;tag=1"));
        assert_eq!(h.get(&HeaderName::To), Some("<sip:b@c>;tag=1"));
        assert_eq!(h.remove_last(&HeaderName::Via).as_deref(), Some("SIP/2.0/UDP a;branch=z9hG4bK1"));
    }

    #[test]
    fn copies_between_lists_sharing_a_block_stay_spans_and_foreign_text_is_copied() {
        let h = parsed();
        let mut r = h.sharing(2);
        r.push_from(&h, 1);
        r.push_from(&h, 7); // out of range: nothing
        assert_eq!(r.iter().map(|x| x.value).collect::<Vec<_>>(), ["<sip:b@c>"]);
        let mut other = Headers::with_capacity(1);
        other.push_from(&h, 0);
        assert_eq!(other.get(&HeaderName::Via), Some("SIP/2.0/UDP a;branch=z9hG4bK1"));
        other.push_span(HeaderName::To, "not from the block");
        assert_eq!(other.get(&HeaderName::To), Some("not from the block"));
        let v = h.get(&HeaderName::To).unwrap_or_default();
        assert_eq!(h.share(&v[1..8]), "sip:b@c");
        assert_eq!(parsed(), h);
    }
}
