//! A TOML document as a tree in which every key and value keeps its byte span, so that every
//! diagnostic can point at `line:column`. Built through serde from the `toml` crate's
//! deserializer (`toml::Spanned` at every level); the dial-plan reader then walks the tree by
//! hand, which lets it report *all* problems of a file rather than serde's first one.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::ops::Range;

/// The field name the `toml` crate uses to carry a datetime through serde: dial plans have no
/// use for bare TOML datetimes, so meeting one becomes a clear error.
const DATETIME_FIELD: &str = "$__toml_private_datetime";

/// A value with its span (byte range in the file).
#[derive(Debug, Clone)]
pub struct Node {
    /// Byte range of the value in the source.
    pub span: Range<usize>,
    /// The value.
    pub kind: Kind,
}

/// A key with its span.
#[derive(Debug, Clone)]
pub struct Key {
    /// Byte range of the key in the source.
    pub span: Range<usize>,
    /// The key's text.
    pub name: String,
}

/// The kinds of TOML values.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float (no dial-plan key takes one; kept to report it).
    Float,
    /// A boolean.
    Bool(bool),
    /// An array.
    Array(Vec<Node>),
    /// A table, keys in source order.
    Table(Vec<(Key, Node)>),
}

impl Kind {
    /// Human name of the kind, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Str(_) => "a string",
            Kind::Int(_) => "an integer",
            Kind::Float => "a float",
            Kind::Bool(_) => "a boolean",
            Kind::Array(_) => "an array",
            Kind::Table(_) => "a table",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(SPANNED, SPANNED_FIELDS, NodeVisitor)
    }
}

/// Takes a spanned value (a map of start, end, value) or, for the implicit tables of dotted
/// headers, which have no span, the plain value (span: its first key's, or empty).
struct NodeVisitor;

fn unspanned(kind: Kind) -> Node {
    let span = match &kind {
        Kind::Table(t) => t.first().map_or(0..0, |(k, _)| k.span.clone()),
        _ => 0..0,
    };
    Node { span, kind }
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        KindVisitor.visit_bool(v).map(unspanned)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        KindVisitor.visit_i64(v).map(unspanned)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        KindVisitor.visit_u64(v).map(unspanned)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        KindVisitor.visit_f64(v).map(unspanned)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        KindVisitor.visit_str(v).map(unspanned)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Node, A::Error> {
        KindVisitor.visit_seq(seq).map(unspanned)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let Some(MaybeSpannedKey(kspan, first)) = map.next_key()? else {
            return Ok(unspanned(Kind::Table(Vec::new())));
        };
        if first != SPANNED_FIELDS[0] {
            let mut entries = Vec::new();
            let v = map.next_value::<Node>()?;
            entries.push((Key { span: kspan.unwrap_or_else(|| v.span.clone()), name: first }, v));
            return read_table(map, entries).map(unspanned);
        }
        let start: usize = map.next_value()?;
        let (mut end, mut kind) = (start, None);
        while let Some(k) = map.next_key::<String>()? {
            if k == SPANNED_FIELDS[1] {
                end = map.next_value()?;
            } else {
                kind = Some(map.next_value::<Kind>()?);
            }
        }
        let kind = kind.ok_or_else(|| de::Error::custom("spanned value without a value"))?;
        Ok(Node { span: start..end, kind })
    }
}

fn read_table<'de, A: MapAccess<'de>>(mut map: A, mut entries: Vec<(Key, Node)>) -> Result<Kind, A::Error> {
    while let Some(MaybeSpannedKey(span, name)) = map.next_key()? {
        if name == DATETIME_FIELD {
            return Err(de::Error::custom(DATETIME_FIELD));
        }
        let v = map.next_value::<Node>()?;
        let span = span.unwrap_or_else(|| v.span.clone());
        entries.push((Key { span, name }, v));
    }
    Ok(Kind::Table(entries))
}

/// The `toml` crate hands out spans through serde by answering a `deserialize_struct` call
/// with these names (the protocol of `serde_spanned`, which `toml::Spanned` uses). Keys of
/// dotted table headers (`[hours.office]`) have no span and come as plain strings, which
/// `toml::Spanned` refuses; this visitor takes both. `spans_are_kept_at_every_level` fails if
/// a `toml` upgrade changes the protocol.
const SPANNED: &str = "$__serde_spanned_private_Spanned";
const SPANNED_FIELDS: &[&str] = &["$__serde_spanned_private_start", "$__serde_spanned_private_end", "$__serde_spanned_private_value"];

/// A key whose span may be unknown (filled in from its value by the map visitor).
struct MaybeSpannedKey(Option<Range<usize>>, String);

impl<'de> Deserialize<'de> for MaybeSpannedKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(SPANNED, SPANNED_FIELDS, KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = MaybeSpannedKey;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a TOML key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<MaybeSpannedKey, E> {
        Ok(MaybeSpannedKey(None, v.to_owned()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeSpannedKey, A::Error> {
        let (mut start, mut end, mut value) = (None, None, None);
        while let Some(k) = map.next_key::<String>()? {
            match k.as_str() {
                f if f == SPANNED_FIELDS[0] => start = Some(map.next_value::<usize>()?),
                f if f == SPANNED_FIELDS[1] => end = Some(map.next_value::<usize>()?),
                _ => value = Some(map.next_value::<String>()?),
            }
        }
        let value = value.ok_or_else(|| de::Error::custom("key without a value"))?;
        Ok(MaybeSpannedKey(start.zip(end).map(|(s, e)| s..e), value))
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        i64::try_from(v).map(Kind::Int).map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        let _ = v;
        Ok(Kind::Float)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Kind::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Kind, A::Error> {
        read_table(map, Vec::new())
    }
}

/// A TOML syntax error: message and, when known, byte span.
pub type SyntaxError = (String, Option<Range<usize>>);

/// Parses a TOML document into a spanned tree. On a syntax error returns the message and,
/// when the parser knows it, the byte span.
pub fn parse(src: &str) -> Result<Vec<(Key, Node)>, SyntaxError> {
    // The document itself is a table; the top level has no span of its own worth keeping.
    let de = toml::Deserializer::new(src);
    match Kind::deserialize(de) {
        Ok(Kind::Table(t)) => Ok(t),
        Ok(_) => Err(("a dial plan must be a TOML table".into(), None)),
        Err(e) if e.message().contains(DATETIME_FIELD) => {
            Err(("a bare TOML date or time is not used in dial plans: quote it, e.g. \"09:00-13:00\" or \"2026-06-24\"".into(), e.span()))
        }
        Err(e) => Err((e.message().to_owned(), e.span())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_kept_at_every_level() {
        let src = "a = 1\n[[rule]]\nname = \"x\"\nsteps = [ { ring = \"u\" } ]\n[hours.office]\nmon = \"9\"\n";
        let t = parse(src).unwrap();
        assert_eq!(t[0].0.name, "a");
        assert_eq!(&src[t[0].1.span.clone()], "1");
        let Kind::Array(rules) = &t[1].1.kind else { panic!("{:?}", t[1].1) };
        let Kind::Table(rule) = &rules[0].kind else { panic!() };
        assert_eq!(&src[rule[0].0.span.clone()], "name");
        assert_eq!(&src[rule[0].1.span.clone()], "\"x\"");
        let Kind::Array(steps) = &rule[1].1.kind else { panic!() };
        let Kind::Table(step) = &steps[0].kind else { panic!() };
        assert_eq!(&src[step[0].1.span.clone()], "\"u\"");
        let Kind::Table(hours) = &t[2].1.kind else { panic!() };
        assert_eq!(hours[0].0.name, "office");
        let Kind::Table(office) = &hours[0].1.kind else { panic!() };
        assert_eq!(&src[office[0].0.span.clone()], "mon");
    }

    #[test]
    fn bare_time_is_a_clear_error() {
        let src = "a = 1\nt = 09:00:00\n";
        let (msg, span) = parse(src).unwrap_err();
        assert!(msg.contains("quote it"), "{msg}");
        assert_eq!(&src[span.unwrap()], "09:00:00");
    }

    #[test]
    fn syntax_error_has_span() {
        let (msg, span) = parse("a = \n").unwrap_err();
        assert!(!msg.is_empty());
        assert!(span.is_some());
    }
}
