//! RFC 4475's torture corpus (`../shared/conformance/rfc4475`, the 49 messages of its Appendix A):
//! where it is and its messages by the RFC's sections, as the corpus's README lists them. Shared by
//! the codec's conformance tests (`tests/rfc4475.rs`), the rsip evidence (`tests/rsip_evidence.rs`)
//! and the daemon torture test (`tests/torture.rs`), which each include this file with `#[path]`.
#![allow(dead_code)]

/// The corpus's directory.
pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance/rfc4475");

/// §3.1.1: valid messages that stress the parser.
pub const VALID: [&str; 13] = [
    "wsinv",
    "intmeth",
    "esc01",
    "escnull",
    "esc02",
    "lwsdisp",
    "longreq",
    "dblreq",
    "semiuri",
    "transports",
    "mpart01",
    "unreason",
    "noreason",
];
/// §3.1.2: invalid messages (an element must reject them).
pub const INVALID: [&str; 19] = [
    "badinv01",
    "clerr",
    "ncl",
    "scalar02",
    "scalarlg",
    "quotbal",
    "ltgtruri",
    "lwsruri",
    "lwsstart",
    "trws",
    "escruri",
    "baddate",
    "regbadct",
    "badaspec",
    "baddn",
    "badvers",
    "mismatch01",
    "mismatch02",
    "bigcode",
];
/// §3.2, §3.3 and §3.4 messages whose syntax is valid.
pub const SEMANTIC_OK: [&str; 14] = [
    "badbranch",
    "unkscm",
    "novelsc",
    "unksm2",
    "bext01",
    "invut",
    "regaut01",
    "bcast",
    "zeromf",
    "cparam01",
    "cparam02",
    "regescrt",
    "sdp01",
    "inv2543",
];
/// §3.3 messages that a parser/validator must refuse (400).
pub const SEMANTIC_BAD: [&str; 3] = ["insuf", "multi01", "mcl01"];
