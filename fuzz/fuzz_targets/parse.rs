//! Datagram parse → validate → serialize → reparse must never panic, and a message that
//! parsed once must reparse (from its own serialization) to the same headers and body.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use urpd::sip::{parse_datagram, parse_framed, HeaderName, Message};

fn headers_without_cl(m: &Message) -> Vec<(HeaderName, String)> {
    m.headers()
        .iter()
        .filter(|h| h.name != HeaderName::ContentLength)
        .map(|h| (h.name.clone(), h.value.to_string()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(m) = parse_datagram(Bytes::copy_from_slice(data)) else { return };
    let valid = m.validate();
    // Exercise the accessors the daemon uses on every message.
    if let Message::Request(r) = &m {
        use urpd::sip::SipHeaders;
        let _ = (r.max_forwards(), r.cseq(), r.top_via(), r.branch(), r.from_tag(), r.to_tag(), r.expires());
    }
    let out = m.to_bytes();
    let again = match parse_datagram(out.clone()) {
        Ok(a) => a,
        Err(e) => panic!("serialized message does not reparse: {e:?}\n{:?}", String::from_utf8_lossy(&out)),
    };
    assert_eq!(headers_without_cl(&again), headers_without_cl(&m), "headers changed");
    match (&m, &again) {
        (Message::Request(a), Message::Request(b)) => {
            assert_eq!((&a.method, &a.uri, &a.body), (&b.method, &b.uri, &b.body));
        }
        (Message::Response(a), Message::Response(b)) => {
            assert_eq!((a.status, &a.reason, &a.body), (b.status, &b.reason, &b.body));
        }
        _ => panic!("message kind changed"),
    }
    if valid.is_ok() {
        assert_eq!(again.validate(), Ok(()), "valid message became invalid");
    }
    assert_eq!(again.to_bytes(), out, "serialization is not a fixed point");
    // What we write is framed as exactly one message.
    assert_eq!(parse_framed(out.clone()).ok().as_ref(), Some(&again));
});
