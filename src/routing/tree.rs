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
        let s = toml::Spanned::<Kind>::deserialize(d)?;
        let span = s.span();
        Ok(Node { span, kind: s.into_inner() })
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = toml::Spanned::<String>::deserialize(d)?;
        let span = s.span();
        Ok(Key { span, name: s.into_inner() })
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
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Key>()? {
            let v = map.next_value::<Node>()?;
            entries.push((k, v));
        }
        Ok(Kind::Table(entries))
    }
}

/// Parses a TOML document into a spanned tree. On a syntax error returns the message and,
/// when the parser knows it, the byte span.
pub fn parse(src: &str) -> Result<Vec<(Key, Node)>, (String, Option<Range<usize>>)> {
    // The document itself is a table; the top level has no span of its own worth keeping.
    let de = toml::Deserializer::new(src);
    match Kind::deserialize(de) {
        Ok(Kind::Table(t)) => Ok(t),
        Ok(_) => Err(("a dial plan must be a TOML table".into(), None)),
        Err(e) if e.message().contains(DATETIME_FIELD) => Err((
            "a bare TOML date or time is not used in dial plans: quote it, e.g. \"09:00-13:00\" or \"2026-06-24\"".into(),
            e.span(),
        )),
        Err(e) => Err((e.message().to_owned(), e.span())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_kept_at_every_level() {
        let src = "a = 1\n[[rule]]\nname = \"x\"\nsteps = [ { ring = \"u\" } ]\n";
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
