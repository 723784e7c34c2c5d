//! Codec throughput: datagram parse + validate + serialize of typical messages, and framing a
//! TCP stream that holds several messages. `cargo bench --bench codec -- --quick`.

use bytes::Bytes;
use criterion::{black_box, criterion_group, Criterion, Throughput};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use urpd::sip::{frame, parse_datagram, parse_framed, Frame};

/// Counts heap allocations so the bench can report allocations per operation.
struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs_of<T>(f: impl Fn() -> T) -> usize {
    let _warm = f();
    let before = ALLOCS.load(Ordering::Relaxed);
    let out = f();
    let n = ALLOCS.load(Ordering::Relaxed) - before;
    drop(out);
    n
}

/// Prints heap allocations per operation (the receive buffer is shared, as a socket read's
/// `BytesMut::freeze` would be, so slicing it does not allocate).
fn report_allocs() {
    for (name, text) in [("invite_sdp", INVITE), ("register_auth", REGISTER), ("200_ok", OK200)] {
        let buf = Bytes::from(text.as_bytes().to_vec());
        let _ = buf.slice(1..); // promote to the shared representation
        let parse = allocs_of(|| parse_datagram(buf.clone()));
        let msg = parse_datagram(buf.clone()).unwrap_or_else(|e| panic!("{e:?}"));
        let validate = allocs_of(|| msg.validate());
        let ser = allocs_of(|| msg.to_bytes());
        println!("allocs/op {name}: parse {parse}, validate {validate}, serialize {ser}");
    }
}

/// An INVITE with SDP as a proxy sees it after two hops: 3 Via, Record-Route, Route.
const INVITE: &str = "INVITE sip:bob@192.0.2.20:5060;transport=udp SIP/2.0\r\n\
Via: SIP/2.0/UDP proxy2.example.org:5060;branch=z9hG4bK2a7f.c3d1e0f7.0\r\n\
Via: SIP/2.0/UDP proxy1.example.com:5060;branch=z9hG4bK87asdks7.1;received=198.51.100.7\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;rport=5060;received=192.0.2.10;branch=z9hG4bK74bf9\r\n\
Record-Route: <sip:proxy2.example.org;lr;ftag=9fxced76sl>\r\n\
Route: <sip:proxy3.example.org;lr>\r\n\
Max-Forwards: 68\r\n\
From: \"Alice Rossi\" <sip:alice@example.com>;tag=9fxced76sl\r\n\
To: \"Bob Bianchi\" <sip:bob@example.org>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY\r\n\
Supported: replaces, timer, 100rel\r\n\
User-Agent: ExamplePhone/4.2\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 235\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 97 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:97 iLBC/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendrecv\r\n";

const REGISTER: &str = "REGISTER sip:registrar.example.it SIP/2.0\r\n\
Via: SIP/2.0/TCP 192.0.2.44:50312;rport;branch=z9hG4bKPj8c2d5e1f0a\r\n\
Max-Forwards: 70\r\n\
From: <sip:1001@example.it>;tag=5b1c2d3e4f\r\n\
To: <sip:1001@example.it>\r\n\
Call-ID: 8d9b1c7a-54e3-4f8a-9a1b-2c3d4e5f6a7b\r\n\
CSeq: 2 REGISTER\r\n\
Contact: <sip:1001@192.0.2.44:50312;transport=tcp;ob>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-00a0c91e6bf6>\";reg-id=1\r\n\
Expires: 600\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, MESSAGE\r\n\
User-Agent: ExamplePhone/4.2\r\n\
Authorization: Digest username=\"1001\", realm=\"example.it\", nonce=\"ZmFrZW5vbmNlMTIzNDU2Nzg5MGFiY2RlZg\", uri=\"sip:registrar.example.it\", response=\"4b2c9d1e0f3a7b6c5d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c\", algorithm=SHA-256, cnonce=\"a1b2c3d4\", qop=auth, nc=00000001\r\n\
Content-Length: 0\r\n\
\r\n";

const OK200: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP proxy2.example.org:5060;branch=z9hG4bK2a7f.c3d1e0f7.0\r\n\
Via: SIP/2.0/UDP proxy1.example.com:5060;branch=z9hG4bK87asdks7.1;received=198.51.100.7\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;rport=5060;received=192.0.2.10;branch=z9hG4bK74bf9\r\n\
Record-Route: <sip:proxy2.example.org;lr;ftag=9fxced76sl>\r\n\
From: \"Alice Rossi\" <sip:alice@example.com>;tag=9fxced76sl\r\n\
To: \"Bob Bianchi\" <sip:bob@example.org>;tag=8321234356\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:bob@192.0.2.20:5060>\r\n\
Content-Length: 0\r\n\
\r\n";

fn bench_messages(c: &mut Criterion) {
    for (name, text) in [("invite_sdp", INVITE), ("register_auth", REGISTER), ("200_ok", OK200)] {
        let buf = Bytes::from_static(text.as_bytes());
        // The sample must be a valid message, or the benchmark measures an error path.
        parse_datagram(buf.clone()).and_then(|m| m.validate()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function("parse", |b| b.iter(|| parse_datagram(black_box(buf.clone()))));
        g.bench_function("parse+validate", |b| {
            b.iter(|| {
                let m = parse_datagram(black_box(buf.clone())).ok()?;
                m.validate().ok().map(|_| m)
            })
        });
        let msg = parse_datagram(buf.clone()).unwrap_or_else(|e| panic!("{e:?}"));
        g.bench_function("serialize", |b| b.iter(|| black_box(&msg).to_bytes()));
        g.bench_function("parse+validate+serialize", |b| {
            b.iter(|| {
                let m = parse_datagram(black_box(buf.clone())).ok()?;
                m.validate().ok()?;
                Some(m.to_bytes())
            })
        });
        g.finish();
    }
}

fn bench_stream(c: &mut Criterion) {
    // A TCP stream of 8 messages with keep-alive CRLFs between some of them.
    let mut stream = Vec::new();
    for i in 0..8 {
        stream.extend_from_slice([INVITE, REGISTER, OK200][i % 3].as_bytes());
        if i % 2 == 1 {
            stream.extend_from_slice(b"\r\n\r\n");
        }
    }
    let stream = Bytes::from(stream);
    let mut g = c.benchmark_group("tcp_stream_8_msgs");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("frame", |b| {
        b.iter(|| {
            let mut off = 0;
            let mut n = 0;
            while off < stream.len() {
                match frame(black_box(&stream[off..]), 65_535) {
                    Ok(Frame::KeepAlive(k)) => off += k,
                    Ok(Frame::Message(k)) => {
                        off += k;
                        n += 1;
                    }
                    _ => break,
                }
            }
            assert_eq!(n, 8);
        })
    });
    g.bench_function("frame+parse_framed", |b| {
        b.iter(|| {
            let mut off = 0;
            let mut n = 0;
            while off < stream.len() {
                match frame(&stream[off..], 65_535) {
                    Ok(Frame::KeepAlive(k)) => off += k,
                    Ok(Frame::Message(k)) => {
                        if parse_framed(stream.slice(off..off + k)).is_ok() {
                            n += 1;
                        }
                        off += k;
                    }
                    _ => break,
                }
            }
            assert_eq!(n, 8);
        })
    });
    g.finish();
}

criterion_group!(benches, bench_messages, bench_stream);

fn main() {
    report_allocs();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
