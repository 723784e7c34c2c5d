//! Test-side SIP client bits: build requests and answer digest challenges (RFC 7616 client
//! side), for tests that need exact control over what is sent.

#![allow(dead_code)]

use md5::Digest as _;

/// Hex digest with the named algorithm ("MD5" or "SHA-256").
pub fn h(alg: &str, s: &str) -> String {
    if alg.eq_ignore_ascii_case("SHA-256") {
        hex::encode(sha2::Sha256::digest(s.as_bytes()))
    } else {
        hex::encode(md5::Md5::digest(s.as_bytes()))
    }
}

/// A parameter of a challenge header value (quotes removed).
pub fn chal_param(chal: &str, name: &str) -> Option<String> {
    let lower = chal.to_ascii_lowercase();
    let key = format!("{}=", name.to_ascii_lowercase());
    let mut from = 0;
    while let Some(pos) = lower[from..].find(&key) {
        let at = from + pos;
        let before = lower[..at].chars().last();
        if at == 0 || matches!(before, Some(' ') | Some(',') | Some('\t')) {
            let rest = &chal[at + key.len()..];
            return Some(if let Some(r) = rest.strip_prefix('"') {
                r.split('"').next().unwrap_or("").to_string()
            } else {
                rest.split([',', ' ']).next().unwrap_or("").to_string()
            });
        }
        from = at + key.len();
    }
    None
}

/// The Authorization value answering `chal` for `method uri`.
pub fn authorization(chal: &str, user: &str, password: &str, method: &str, uri: &str, nc: u32) -> String {
    let realm = chal_param(chal, "realm").unwrap_or_default();
    let nonce = chal_param(chal, "nonce").unwrap_or_default();
    let alg = chal_param(chal, "algorithm").unwrap_or_else(|| "MD5".into());
    let cnonce = format!("c{:08x}", std::process::id() ^ nc);
    let ha1 = h(&alg, &format!("{user}:{realm}:{password}"));
    let ha2 = h(&alg, &format!("{method}:{uri}"));
    let ncs = format!("{nc:08x}");
    let resp = h(&alg, &format!("{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}"));
    format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm={alg}, cnonce=\"{cnonce}\", nc={ncs}, qop=auth"
    )
}

/// A REGISTER from `local` for `user` at `node` (host:port), with optional extra header lines.
pub fn register(node: &str, local: std::net::SocketAddr, user: &str, call_id: &str, cseq: u32, extra: &[String]) -> String {
    // Every request is a new transaction: a fresh branch each time.
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let b = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut s = format!(
        "REGISTER sip:{node} SIP/2.0\r\nVia: SIP/2.0/UDP {local};rport;branch=z9hG4bK{call_id}{cseq}x{b}\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{node}>;tag=f{cseq}\r\nTo: <sip:{user}@{node}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
    );
    for e in extra {
        s.push_str(e);
        s.push_str("\r\n");
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    s
}

/// All values of header `name` in a response text.
pub fn headers(msg: &str, name: &str) -> Vec<String> {
    msg.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

/// The status code of a response text.
pub fn status(msg: &str) -> u16 {
    msg.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Sends an INVITE from `caller` (answering the 407) over `peer` to `to_user` at `node`
/// (host:port) and returns the first final response to it (empty on timeout). No ACK is sent
/// for it: tests using this only look at the answer.
pub fn invite(peer: &super::UdpPeer, node: std::net::SocketAddr, caller: &str, password: &str, to_user: &str, call_id: &str) -> String {
    let target = node.to_string();
    let uri = format!("sip:{to_user}@{target}");
    let build = |cseq: u32, auth: Option<&str>| {
        let mut s = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {l};rport;branch=z9hG4bK{call_id}x{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:{caller}@{target}>;tag=a{cseq}\r\nTo: <sip:{to_user}@{target}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:{caller}@{l}>\r\n",
            l = peer.local()
        );
        if let Some(a) = auth {
            s.push_str(&format!("Proxy-Authorization: {a}\r\n"));
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        s
    };
    peer.send(node, build(1, None).as_bytes());
    let r = String::from_utf8_lossy(&peer.recv_until("SIP/2.0 407", std::time::Duration::from_secs(5)).unwrap_or_default()).to_string();
    let chal = headers(&r, "Proxy-Authenticate").into_iter().next().unwrap_or_default();
    let auth = authorization(&chal, caller, password, "INVITE", &uri, 1);
    peer.send(node, build(2, Some(&auth)).as_bytes());
    let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < end {
        let Some(m) = peer.recv(std::time::Duration::from_secs(1)) else { continue };
        let m = String::from_utf8_lossy(&m.0).to_string();
        if status(&m) >= 200 && m.contains("CSeq: 2 INVITE") && m.contains(call_id) {
            return m;
        }
    }
    String::new()
}

/// Sends a REGISTER, answering one challenge; returns the final response text.
pub fn register_raw(
    peer: &super::UdpPeer,
    node: &super::Node,
    user: &str,
    password: &str,
    call_id: &str,
    cseq: &mut u32,
    extra: &[String],
) -> String {
    let target = node.target();
    let first = register(&target, peer.local(), user, call_id, *cseq, extra);
    peer.send(node.addr(), first.as_bytes());
    let resp = String::from_utf8_lossy(&peer.recv_until("SIP/2.0 ", std::time::Duration::from_secs(5)).unwrap_or_default()).to_string();
    if status(&resp) != 401 {
        return resp;
    }
    let chal = headers(&resp, "WWW-Authenticate").into_iter().next().unwrap_or_default();
    *cseq += 1;
    let auth = authorization(&chal, user, password, "REGISTER", &format!("sip:{target}"), 1);
    let mut extra2 = extra.to_vec();
    extra2.push(format!("Authorization: {auth}"));
    peer.send(node.addr(), register(&target, peer.local(), user, call_id, *cseq, &extra2).as_bytes());
    String::from_utf8_lossy(&peer.recv_until("SIP/2.0 ", std::time::Duration::from_secs(5)).unwrap_or_default()).to_string()
}
