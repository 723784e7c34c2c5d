//! Digest hash algorithms (RFC 8760 names) and the `H()` helper of RFC 7616 §3.4.
//!
//! Only the non-session variants are supported: `-sess` would need the server to offer it and
//! to hash per (nonce, cnonce); no SIP phone we target needs it, so it is refused by name
//! ([`AlgorithmError::SessUnsupported`]) rather than lumped in with unknown names.

use md5::Md5;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// A digest algorithm usable for SIP authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (RFC 2617 / RFC 3261 default; also what an absent `algorithm` param means).
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
}

/// Why an `algorithm` parameter value is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlgorithmError {
    /// A `-sess` variant (`MD5-sess`, `SHA-256-sess`, ...): recognised but not supported.
    #[error("session digest algorithm {0:?} is not supported")]
    SessUnsupported(String),
    /// A name we do not know (e.g. `SHA-512-256`, `AKAv1-MD5`).
    #[error("unknown digest algorithm {0:?}")]
    Unknown(String),
}

impl Algorithm {
    /// The RFC 8760 token for this algorithm, as written in challenges.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Length in hex characters of this algorithm's digests (32 or 64).
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 => 64,
        }
    }

    /// Parses an `algorithm` value case-insensitively (RFC 7616 §3.3 tokens are case-insensitive).
    pub fn parse(s: &str) -> Result<Self, AlgorithmError> {
        if s.eq_ignore_ascii_case("MD5") {
            Ok(Algorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Ok(Algorithm::Sha256)
        } else if s.len() > 5 && s.get(s.len() - 5..).is_some_and(|t| t.eq_ignore_ascii_case("-sess")) {
            Err(AlgorithmError::SessUnsupported(s.to_owned()))
        } else {
            Err(AlgorithmError::Unknown(s.to_owned()))
        }
    }

    /// `H(p0 ":" p1 ":" ...)` as lowercase hex: the digest of the parts joined by colons,
    /// which is the only shape RFC 7616 ever hashes (HA1, HA2 and KD alike).
    pub fn digest_hex<P: AsRef<[u8]>>(self, parts: &[P]) -> HexDigest {
        match self {
            Algorithm::Md5 => hash_joined::<Md5, P>(parts),
            Algorithm::Sha256 => hash_joined::<Sha256, P>(parts),
        }
    }
}

/// Feeds the parts into the hasher with ':' separators, avoiding an intermediate String.
fn hash_joined<D: Digest, P: AsRef<[u8]>>(parts: &[P]) -> HexDigest {
    let mut h = D::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p.as_ref());
    }
    HexDigest::of(&h.finalize())
}

/// A digest as lowercase hex, on the stack: verifying a response computes two (HA2 and the
/// expected response), each a `String` allocation before.
#[derive(Clone, Copy)]
pub struct HexDigest {
    buf: [u8; 64],
    len: u8,
}

impl HexDigest {
    /// Hex of `bytes`; digests longer than 32 bytes (none we support) are cut to 32.
    fn of(bytes: &[u8]) -> HexDigest {
        let mut buf = [0u8; 64];
        let n = bytes.len().min(32);
        hex_into(&bytes[..n], &mut buf);
        HexDigest { buf, len: (2 * n) as u8 }
    }

    /// The hex digits as bytes: what the verifier hashes and compares, without `as_str`'s
    /// UTF-8 check (~140 instructions a call, four calls per verified request; callgrind).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits were written: this never falls back.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::ops::Deref for HexDigest {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<&str> for HexDigest {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for HexDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for HexDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes the lowercase hex of `bytes` into `out`, two digits per byte (input beyond
/// `out.len() / 2` is ignored): the one hex encoder behind `hex_string`, `HexDigest` and the
/// proxy's To tags.
pub(crate) fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 15)];
    }
}

/// Decodes `text` (hex digits of either case) into `out`, which it must fill exactly; false on
/// a wrong length or a non-hex byte. One table lookup per digit: `hex::decode_to_slice`
/// matched each digit through a bounds-checked `val` (~930 instructions for the nonce of every
/// authenticated request; callgrind).
pub(crate) fn hex_decode_into(text: &[u8], out: &mut [u8]) -> bool {
    const BAD: u8 = 0xff;
    const VALUE: [u8; 256] = {
        let mut t = [BAD; 256];
        let mut i = 0;
        while i < 10 {
            t[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            t[b'a' as usize + i] = 10 + i as u8;
            t[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        t
    };
    if text.len() != out.len() * 2 {
        return false;
    }
    // OR of every nibble seen: any BAD (0xff) shows in the high bits, checked once at the end.
    let mut seen = 0u8;
    for (pair, byte) in text.chunks_exact(2).zip(out.iter_mut()) {
        let (hi, lo) = (VALUE[usize::from(pair[0])], VALUE[usize::from(pair[1])]);
        seen |= hi | lo;
        *byte = (hi << 4) | (lo & 15);
    }
    seen < 16
}

/// Lowercase hex of `bytes`. `hex::encode` collects `char`s one at a time into its `String`
/// (~0.7% of the samples at 8,000 REGISTER/s: the nonce and two digests per REGISTER); this
/// fills one buffer of the right size.
pub(crate) fn hex_string(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex_into(bytes, &mut out);
    // Only ASCII digits were written: this never falls back.
    String::from_utf8(out).unwrap_or_default()
}

impl FromStr for Algorithm {
    type Err = AlgorithmError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::parse(s)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names() {
        assert_eq!(Algorithm::parse("md5"), Ok(Algorithm::Md5));
        assert_eq!(Algorithm::parse("sha-256"), Ok(Algorithm::Sha256));
        assert_eq!("SHA-256".parse::<Algorithm>(), Ok(Algorithm::Sha256));
        assert!(matches!(Algorithm::parse("MD5-sess"), Err(AlgorithmError::SessUnsupported(_))));
        assert!(matches!(Algorithm::parse("SHA-256-SESS"), Err(AlgorithmError::SessUnsupported(_))));
        assert!(matches!(Algorithm::parse("SHA-512-256"), Err(AlgorithmError::Unknown(_))));
        assert!(matches!(Algorithm::parse("-sess"), Err(AlgorithmError::Unknown(_))));
        assert!(matches!(Algorithm::parse(""), Err(AlgorithmError::Unknown(_))));
    }

    #[test]
    fn hex_string_matches_hex_crate() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(hex_string(&all), hex::encode(&all));
        // Decoding gives the bytes back, from either case; anything not hex, or a wrong
        // length, is refused, as hex::decode_to_slice refuses it.
        let mut back = vec![0u8; all.len()];
        assert!(hex_decode_into(hex_string(&all).as_bytes(), &mut back));
        assert_eq!(back, all);
        assert!(hex_decode_into(hex_string(&all).to_ascii_uppercase().as_bytes(), &mut back));
        assert_eq!(back, all);
        for bad in ["0g", "g0", " 0", "0\u{0}", "+1", "0x", "é"] {
            let mut one = [0u8; 1];
            assert!(!hex_decode_into(bad.as_bytes(), &mut one), "{bad:?}");
            assert!(hex::decode_to_slice(bad, &mut one).is_err(), "{bad:?}");
        }
        let mut two = [0u8; 2];
        assert!(!hex_decode_into(b"abc", &mut two) && !hex_decode_into(b"abcdef", &mut two));
        assert_eq!(hex_string(&[]), "");
    }

    #[test]
    fn digest_hex_known_vectors() {
        assert_eq!(Algorithm::Md5.digest_hex(&["abc"]), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(Algorithm::Sha256.digest_hex(&["a", "bc"]).as_str(), Algorithm::Sha256.digest_hex(&["a:bc"]).as_str());
        assert_eq!(Algorithm::Sha256.digest_hex(&[""]).len(), Algorithm::Sha256.hex_len());
    }
}
