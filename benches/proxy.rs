//! The proxy's per-request path without sockets: the sans-IO `Core` fed raw datagrams and
//! drained of what it would send. Measures parse + validate + transaction layer + routing +
//! rewriting + serialization, the work one message costs the node, minus the syscalls.
//! `cargo bench --bench proxy -- --quick`.
//!
//! Cases: OPTIONS to the node (answered statelessly), REGISTER from a trusted source (the
//! registrar path without digest), a REGISTER with a digest answer (verification included), and
//! an INVITE forwarded to a registered contact (100 Trying, Via, Record-Route, client
//! transaction) followed by the callee's 200 OK relayed back.

use bytes::Bytes;
use criterion::{black_box, criterion_group, Criterion};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use urpd::auth::{Algorithm, AuthConfig, Authenticator, Ha1, StoredCredentials};
use urpd::proxy::{Core, CoreConfig, Credentials, Identity, Now};
use urpd::registrar::{ExpiryPolicy, LocationTable};
use urpd::transaction::{TimerConfig, TransactionLayer};
use urpd::transport::{FlowCheck, NetList, Peer, Protocol};

const NODE: &str = "127.0.0.1:5060";

/// HA1s computed once, as the daemon's cache holds them.
struct Users(StoredCredentials, StoredCredentials);
impl Credentials for Users {
    fn ha1(&self, user: &str, alg: Algorithm) -> Option<Ha1> {
        match user {
            "alice" => self.0.ha1_hex(alg),
            "bob" => self.1.ha1_hex(alg),
            _ => None,
        }
    }

    fn exists(&self, user: &str) -> bool {
        matches!(user, "alice" | "bob")
    }
}
struct NoFlows;
impl FlowCheck for NoFlows {
    fn is_open(&self, _: Peer) -> bool {
        false
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|_| unreachable!())
}

fn core(trusted: bool) -> Core {
    let nets = |v: &[&str]| NetList::new(v.iter().filter_map(|n| n.parse().ok()).collect());
    let cfg = CoreConfig {
        server_header: "urpd".into(),
        expiry: ExpiryPolicy { min: 60, max: 7200, default: 3600 },
        timer_c: Duration::from_secs(180),
        record_route: true,
        trusted: if trusted { nets(&["127.0.0.0/8"]) } else { nets(&[]) },
        outbound_allow: nets(&["127.0.0.0/8"]),
        rate_limit: (0, 1),
        cases: None,
    };
    let mut auth = AuthConfig::new("urpd");
    auth.algorithms = vec![Algorithm::Md5];
    let now = Now::system();
    Core::new(
        cfg,
        Identity::new(vec![(Protocol::Udp, sa(NODE))], vec![]),
        TransactionLayer::new(TimerConfig::default()),
        LocationTable::with_max_contacts(10),
        Authenticator::new(auth),
        Arc::new(Users(StoredCredentials::from_password("alice", "urpd", "pw"), StoredCredentials::from_password("bob", "urpd", "pw"))),
        Arc::new(NoFlows),
        now,
    )
}

fn udp(addr: &str) -> Peer {
    Peer::new(Protocol::Udp, sa(addr))
}

fn drain(c: &mut Core) -> usize {
    let mut n = 0;
    while let Some(t) = c.poll_transmit() {
        n += t.data.len();
    }
    n
}

fn register(i: u64, extra: &str) -> Bytes {
    Bytes::from(format!(
        "REGISTER sip:{NODE} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5061;rport;branch=z9hG4bKr{i}\r\nMax-Forwards: 70\r\nFrom: <sip:bob@{NODE}>;tag=r{i}\r\nTo: <sip:bob@{NODE}>\r\nCall-ID: reg-{i}\r\nCSeq: 1 REGISTER\r\nContact: <sip:bob@127.0.0.3:5062>;expires=3600\r\n{extra}User-Agent: bench\r\nContent-Length: 0\r\n\r\n"
    ))
}

const SDP: &str =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn invite(i: u64) -> Bytes {
    Bytes::from(format!(
        "INVITE sip:bob@{NODE} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5061;rport;branch=z9hG4bKi{i}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@{NODE}>;tag=a{i}\r\nTo: <sip:bob@{NODE}>\r\nCall-ID: inv-{i}\r\nCSeq: 2 INVITE\r\nContact: <sip:alice@127.0.0.2:5061>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    ))
}

/// The callee's 200 OK to the forwarded INVITE (Vias taken from what the core sent).
fn ok_for(forwarded: &[u8]) -> Bytes {
    let text = String::from_utf8_lossy(forwarded);
    let mut out = String::from("SIP/2.0 200 OK\r\n");
    for line in text.split("\r\n") {
        let l = line.to_ascii_lowercase();
        if l.starts_with("via:")
            || l.starts_with("record-route:")
            || l.starts_with("from:")
            || l.starts_with("call-id:")
            || l.starts_with("cseq:")
        {
            out.push_str(line);
            out.push_str("\r\n");
        } else if l.starts_with("to:") {
            out.push_str(line);
            out.push_str(";tag=callee\r\n");
        }
    }
    out.push_str("Contact: <sip:bob@127.0.0.3:5062>\r\nContent-Length: 0\r\n\r\n");
    Bytes::from(out)
}

fn bench(c: &mut Criterion) {
    let local = sa(NODE);
    let mut g = c.benchmark_group("proxy");
    g.measurement_time(Duration::from_secs(3));

    // OPTIONS to the node.
    let mut cr = core(false);
    let mut i = 0u64;
    g.bench_function("options_to_node", |b| {
        b.iter(|| {
            i += 1;
            let m = Bytes::from(format!(
                "OPTIONS sip:{NODE} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5061;branch=z9hG4bKo{i}\r\nMax-Forwards: 70\r\nFrom: <sip:mon@x>;tag=o{i}\r\nTo: <sip:{NODE}>\r\nCall-ID: opt-{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            ));
            cr.handle_message(Now::system(), m, udp("127.0.0.2:5061"), local, false);
            black_box(drain(&mut cr))
        })
    });

    // REGISTER from a trusted source: the registrar path.
    let mut cr = core(true);
    g.bench_function("register_trusted", |b| {
        b.iter(|| {
            i += 1;
            cr.handle_message(Now::system(), register(i, ""), udp("127.0.0.2:5061"), local, false);
            black_box(drain(&mut cr))
        })
    });

    // REGISTER answered with MD5 digest: challenge once, then a fresh nc each time.
    let mut cr = core(false);
    cr.handle_message(Now::system(), register(0, ""), udp("127.0.0.2:5061"), local, false);
    let mut chal = String::new();
    while let Some(t) = cr.poll_transmit() {
        let text = String::from_utf8_lossy(&t.data).to_string();
        if let Some(l) = text.split("\r\n").find(|l| l.starts_with("WWW-Authenticate:")) {
            chal = l.to_string();
        }
    }
    let nonce = chal.split("nonce=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_string();
    let md5 = |s: &str| Algorithm::Md5.digest_hex(&[s]);
    let ha1 = md5("bob:urpd:pw");
    let ha2 = md5(&format!("REGISTER:sip:{NODE}"));
    let mut nc = 0u32;
    // Sanity: the answers below really are accepted (a 401 path would be cheaper and lie).
    {
        nc += 1;
        let ncs = format!("{nc:08x}");
        let resp = md5(&format!("{ha1}:{nonce}:{ncs}:cn:auth:{ha2}"));
        let auth = format!("Authorization: Digest username=\"bob\", realm=\"urpd\", nonce=\"{nonce}\", uri=\"sip:{NODE}\", response=\"{resp}\", algorithm=MD5, cnonce=\"cn\", nc={ncs}, qop=auth\r\n");
        cr.handle_message(Now::system(), register(1_000_000, &auth), udp("127.0.0.2:5061"), local, false);
        let first =
            cr.poll_transmit().map(|t| String::from_utf8_lossy(&t.data).lines().next().unwrap_or("").to_string()).unwrap_or_default();
        assert_eq!(first, "SIP/2.0 200 OK", "digest REGISTER not accepted");
        drain(&mut cr);
    }
    g.bench_function("register_digest", |b| {
        b.iter_batched(
            || {
                nc += 1;
                i += 1;
                let ncs = format!("{nc:08x}");
                let resp = md5(&format!("{ha1}:{nonce}:{ncs}:cn:auth:{ha2}"));
                let auth = format!("Authorization: Digest username=\"bob\", realm=\"urpd\", nonce=\"{nonce}\", uri=\"sip:{NODE}\", response=\"{resp}\", algorithm=MD5, cnonce=\"cn\", nc={ncs}, qop=auth\r\n");
                register(i, &auth)
            },
            |m| {
                cr.handle_message(Now::system(), m, udp("127.0.0.2:5061"), local, false);
                black_box(drain(&mut cr))
            },
            criterion::BatchSize::SmallInput,
        )
    });

    // INVITE forwarded to bob's registered contact, then the 200 OK relayed back.
    let mut cr = core(true);
    cr.handle_message(Now::system(), register(0, ""), udp("127.0.0.3:5062"), local, false);
    drain(&mut cr);
    g.bench_function("invite_forward_and_200", |b| {
        b.iter(|| {
            i += 1;
            cr.handle_message(Now::system(), invite(i), udp("127.0.0.2:5061"), local, false);
            let mut fwd = None;
            while let Some(t) = cr.poll_transmit() {
                if t.dest.addr.port() == 5062 {
                    fwd = Some(t.data);
                }
            }
            if let Some(f) = fwd {
                cr.handle_message(Now::system(), ok_for(&f), udp("127.0.0.3:5062"), local, false);
            }
            black_box(drain(&mut cr))
        })
    });
    g.finish();
    let _ = Instant::now();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
