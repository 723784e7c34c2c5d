//! The stream framer fed the input in arbitrary pieces (split points from the first bytes)
//! must not panic, must never report more bytes than it holds, and must cut the stream into
//! the same messages whatever the split.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use urpd::sip::{frame, parse_framed, Frame, ParseError};

const MAX: usize = 4096;

#[derive(Debug, PartialEq)]
enum Ev {
    KeepAlive(usize),
    Msg(Bytes, Result<(), ParseError>),
    Err(ParseError),
}

/// Feeds `data` in chunks of the given sizes, framing as a TCP reader would.
fn run(data: &[u8], chunks: &[usize]) -> Vec<Ev> {
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    let mut pos = 0;
    let mut ci = 0;
    loop {
        loop {
            match frame(&buf, MAX) {
                Ok(Frame::Incomplete) => break,
                Ok(Frame::KeepAlive(n)) => {
                    assert!(n > 0 && n <= buf.len());
                    let _ = buf.split_to(n);
                    // Merge consecutive keep-alives: their grouping depends on the split.
                    match events.last_mut() {
                        Some(Ev::KeepAlive(k)) => *k += n,
                        _ => events.push(Ev::KeepAlive(n)),
                    }
                }
                Ok(Frame::Message(n)) => {
                    assert!(n > 0 && n <= buf.len() && n <= MAX);
                    let msg = buf.split_to(n).freeze();
                    let parsed = parse_framed(msg.clone()).map(|_| ());
                    events.push(Ev::Msg(msg, parsed));
                }
                Err(e) => {
                    events.push(Ev::Err(e));
                    return events;
                }
            }
        }
        if pos >= data.len() {
            return events;
        }
        let size = chunks.get(ci).copied().unwrap_or(data.len()).max(1);
        ci += 1;
        let end = (pos + size).min(data.len());
        buf.extend_from_slice(&data[pos..end]);
        pos = end;
    }
}

fuzz_target!(|input: &[u8]| {
    if input.is_empty() {
        return;
    }
    // First byte: how many split sizes follow (each one byte).
    let n = (input[0] as usize % 8).min(input.len() - 1);
    let chunks: Vec<usize> = input[1..1 + n].iter().map(|&b| b as usize + 1).collect();
    let data = &input[1 + n..];
    let whole = run(data, &[]);
    let split = run(data, &chunks);
    let bytewise = run(data, &vec![1; data.len()]);
    // A TooLarge verdict may come earlier or later depending on what is buffered; compare
    // the messages before it.
    let strip = |v: Vec<Ev>| -> Vec<Ev> { v.into_iter().filter(|e| !matches!(e, Ev::Err(ParseError::TooLarge))).collect() };
    let (whole, split, bytewise) = (strip(whole), strip(split), strip(bytewise));
    let common = whole.len().min(split.len()).min(bytewise.len());
    assert_eq!(whole[..common], split[..common]);
    assert_eq!(whole[..common], bytewise[..common]);
});
