//! Request and response rewriting for forwarding (RFC 3261 §16.6, §16.7, §18.2.1, RFC 3581):
//! received/rport, Max-Forwards, Via with loop-detecting branch, Record-Route, Route popping,
//! and turning a URI into a transport destination.

use std::fmt::Write;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

use super::identity::{push_hostport, Identity};
use crate::sip::validate::TopVia;
use crate::sip::{HeaderName, Request, Response, SipHeaders, Uri, Via, MAGIC_COOKIE};
use crate::transport::{Peer, Protocol};

/// The marker after the magic cookie that identifies branches this node made.
const BRANCH_TAG: &str = "-urpd-";

/// RFC 3261 §18.2.1 and RFC 3581: records where the request really came from in its top Via.
pub fn add_received(req: &mut Request, from: Peer) {
    let Some(top) = req.headers.get(&HeaderName::Via) else { return };
    let Ok(via) = Via::parse(top) else { return };
    let src_ip = from.addr.ip();
    let wants_rport = via.rport().is_some();
    if !wants_rport && crate::sip::text::parse_host_ip(via.host) == Some(src_ip) {
        return;
    }
    // Rebuild the parameter list without any received/rport, then append the real values.
    let mut out = String::with_capacity(top.len() + 40);
    let head_len = top.len() - via.params_str.len();
    out.push_str(top[..head_len].trim_end());
    for (name, value) in via.params() {
        if name.eq_ignore_ascii_case("received") || name.eq_ignore_ascii_case("rport") {
            continue;
        }
        out.push(';');
        out.push_str(name);
        if let Some(v) = value {
            out.push('=');
            out.push_str(v);
        }
    }
    out.push_str(";received=");
    crate::sip::text::push_ip(&mut out, src_ip);
    if wants_rport {
        out.push_str(";rport=");
        crate::sip::text::push_decimal(&mut out, u64::from(from.addr.port()));
    }
    req.headers.replace_first(&HeaderName::Via, out);
}

/// [`add_received`] for a request whose top Via validation has read ([`TopVia`]): nothing is
/// parsed again when nothing is to be added (the sent-by is the source address, no `rport`).
pub fn add_received_checked(req: &mut Request, from: Peer, top: TopVia) {
    if !top.rport && top.host_ip == Some(from.addr.ip()) {
        return;
    }
    add_received(req, from);
}

/// Hash over what identifies this request at this hop (RFC 3261 §16.6 step 8): a request that
/// comes back with the same hash in one of our Vias is a loop; a changed Request-URI or Route
/// makes it a spiral, which is allowed; so does a new To tag (an in-dialog request).
///
/// foldhash, not SipHash: the hash only has to be the same for the same request within this
/// process (a looped request comes back to the node that hashed it), and nothing is keyed by
/// it, so there is no table to flood; SipHash-1-3 over the ~200 bytes hashed here was 1.6% of
/// a proxied call's instructions (callgrind).
pub fn loop_hash(req: &Request) -> String {
    let mut h = foldhash::fast::FixedState::with_seed(0x7572_7064).build_hasher();
    req.uri.as_str().hash(&mut h);
    req.call_id().hash(&mut h);
    req.cseq().map(|c| c.0).hash(&mut h);
    // From and To whole rather than their tags: no proxy may change either (§16.6), so a
    // looped request still carries both byte for byte, and the hash needs no name-addr parse
    // (two per request, ~1,000 instructions, 4% of a proxied call's; callgrind).
    req.headers.get(&HeaderName::From).hash(&mut h);
    req.headers.get(&HeaderName::To).hash(&mut h);
    // The top Via is left out (unlike RFC 3261's suggestion): a looped request arrives with
    // another element's Via on top, and must still hash the same (RFC 5393 §4.2).
    for r in req.headers.get_all(&HeaderName::Route) {
        r.hash(&mut h);
    }
    for r in req.headers.get_all(&HeaderName::ProxyRequire) {
        r.hash(&mut h);
    }
    crate::auth::hex_string(&h.finish().to_be_bytes())
}

/// A branch for a forwarded request: cookie, our tag, the loop hash, and a per-branch suffix.
pub fn make_branch(hash: &str, suffix: u64) -> String {
    let mut b = String::with_capacity(MAGIC_COOKIE.len() + BRANCH_TAG.len() + hash.len() + 17);
    b.push_str(MAGIC_COOKIE);
    b.push_str(BRANCH_TAG);
    b.push_str(hash);
    b.push('.');
    // Writing into the String cannot fail; one integer's hex, not a whole `format!`.
    let _ = write!(b, "{suffix:x}");
    b
}

/// RFC 3261 §16.3 step 4: whether a Via we added earlier carries the same loop hash.
pub fn is_loop(req: &Request, me: &Identity, hash: &str) -> bool {
    req.headers.get_all(&HeaderName::Via).filter_map(|v| Via::parse(v).ok()).any(|via| {
        me.is_local_host(via.host, via.port)
            && via
                .branch()
                .and_then(|b| b.strip_prefix(MAGIC_COOKIE))
                .and_then(|b| b.strip_prefix(BRANCH_TAG))
                .is_some_and(|b| b.split('.').next() == Some(hash))
    })
}

/// Puts this node's Via on top.
pub fn push_via(req: &mut Request, protocol: Protocol, local: SocketAddr, branch: &str) {
    let mut v = String::with_capacity(64 + branch.len());
    v.push_str("SIP/2.0/");
    v.push_str(protocol.via_token());
    v.push(' ');
    push_hostport(&mut v, local);
    v.push_str(";branch=");
    v.push_str(branch);
    req.headers.push_front(HeaderName::Via, v);
}

/// The Record-Route URI for a listener.
pub fn rr_uri(protocol: Protocol, local: SocketAddr, double: bool) -> String {
    let transport = if protocol == Protocol::Udp { "" } else { ";transport=tcp" };
    let r2 = if double { ";r2=on" } else { "" };
    let mut v = String::with_capacity(64);
    v.push_str("<sip:");
    push_hostport(&mut v, local);
    v.push_str(transport);
    v.push_str(";lr");
    v.push_str(r2);
    v.push('>');
    v
}

/// Adds Record-Route: one entry, or two when the request leaves on another listener than it
/// came in on (so both sides of the node see an address they can reach).
pub fn add_record_route(req: &mut Request, inbound: (Protocol, SocketAddr), outbound: (Protocol, SocketAddr)) {
    if inbound == outbound {
        req.headers.push_front(HeaderName::RecordRoute, rr_uri(inbound.0, inbound.1, false));
    } else {
        req.headers.push_front(HeaderName::RecordRoute, rr_uri(inbound.0, inbound.1, true));
        req.headers.push_front(HeaderName::RecordRoute, rr_uri(outbound.0, outbound.1, true));
    }
}

/// Decrements Max-Forwards, adding 70 when absent (RFC 3261 §16.6 step 3).
pub fn decrement_max_forwards(req: &mut Request) {
    let next = req.max_forwards().map_or(70, |m| m.saturating_sub(1));
    req.headers.set(HeaderName::MaxForwards, next.to_string());
}

/// RFC 3261 §16.4: removes leading Route entries that name this node. Returns how many.
pub fn pop_own_routes(req: &mut Request, me: &Identity) -> usize {
    let mut n = 0;
    while req.headers.get(&HeaderName::Route).is_some() {
        let own = req.addr_uri(&HeaderName::Route).is_some_and(|u| me.is_local_uri(&u));
        if !own {
            break;
        }
        req.headers.remove_first(&HeaderName::Route);
        n += 1;
    }
    n
}

/// The first Route's URI, if any.
pub fn first_route(req: &Request) -> Option<Uri> {
    req.addr_uri(&HeaderName::Route)
}

/// The transport destination a URI names, when its host is an IP literal (no DNS here).
pub fn uri_destination(uri: &Uri) -> Option<Peer> {
    if !uri.is_sip() {
        return None;
    }
    let host = uri.params().get("maddr").flatten().unwrap_or_else(|| uri.host());
    let ip: IpAddr = crate::sip::text::parse_host_ip(host)?;
    let protocol = match uri.transport_param() {
        Some(t) => Protocol::from_token(t)?,
        None if uri.scheme() == crate::sip::Scheme::Sips => Protocol::Tls,
        None => Protocol::Udp,
    };
    let port = uri.port().unwrap_or(if protocol == Protocol::Tls { 5061 } else { 5060 });
    Some(Peer::new(protocol, SocketAddr::new(ip, port)))
}

/// Removes the top Via of a response if it is ours (RFC 3261 §16.7 step 3). Returns false
/// when it is not (the response is then dropped, §18.1.2).
pub fn strip_own_via(resp: &mut Response, me: &Identity) -> bool {
    let ours = resp.top_via().is_some_and(|v| me.is_local_host(v.host, v.port));
    if ours {
        resp.headers.remove_first(&HeaderName::Via);
    }
    ours
}

/// Where a response leaves to, from its (new) top Via (RFC 3261 §18.2.2, RFC 3581), used for
/// responses forwarded without a server transaction.
pub fn via_destination(resp: &Response) -> Option<Peer> {
    let via = resp.top_via()?;
    let protocol = Protocol::from_token(via.transport)?;
    let host = via.received().unwrap_or(via.host);
    let ip: IpAddr = crate::sip::text::parse_host_ip(host)?;
    let port = match via.rport() {
        Some(Some(p)) => p,
        _ => via.port.unwrap_or(5060),
    };
    Some(Peer::new(protocol, SocketAddr::new(ip, port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_is(host: &str, ip: IpAddr) -> bool {
        crate::sip::text::parse_host_ip(host) == Some(ip)
    }

    #[test]
    fn host_ips_read_fast_or_by_std() {
        let v4: IpAddr = "192.0.2.10".parse().unwrap_or_else(|e| panic!("{e}"));
        let v6: IpAddr = "2001:db8::1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(host_is("192.0.2.10", v4));
        assert!(!host_is("192.0.2.1", v4));
        assert!(!host_is("192.0.2.100", v4));
        assert!(!host_is("host.example.com", v4));
        assert!(host_is("[2001:db8::1]", v6));
        assert!(host_is("[2001:DB8:0::1]", v6));
        assert!(!host_is("192.0.2.10", v6));
        assert!(host_is("0.0.0.0", "0.0.0.0".parse().unwrap_or_else(|e| panic!("{e}"))));
        assert!(host_is("255.255.255.255", "255.255.255.255".parse().unwrap_or_else(|e| panic!("{e}"))));
    }

    #[test]
    fn branch_and_hash_text_as_the_formatter_wrote_them() {
        for (hash, suffix) in [("00ab", 0u64), ("ff", 1), ("0123456789abcdef", 0xdead_beef), ("x", u64::MAX)] {
            assert_eq!(make_branch(hash, suffix), format!("{MAGIC_COOKIE}{BRANCH_TAG}{hash}.{suffix:x}"));
        }
        let h = loop_hash(&req(INV));
        assert_eq!(h.len(), 16);
        assert!(h.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    use crate::sip::parse::test_request as req;

    const INV: &str = "INVITE sip:bob@127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.1:5062;rport;branch=z9hG4bK1\nFrom: <sip:alice@x>;tag=1\nTo: <sip:bob@x>\nCall-ID: c1\nCSeq: 1 INVITE\nMax-Forwards: 70\nRoute: <sip:127.0.0.1:5060;lr>\nContent-Length: 0\n\n";

    /// The checked form skips the Via parse only where `add_received` would change nothing.
    #[test]
    fn received_checked_agrees_with_the_full_rule() {
        let vias = [
            "SIP/2.0/UDP 10.0.0.1:5062;rport;branch=z9hG4bK1",
            "SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1",
            "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;received=10.9.9.9",
            "SIP/2.0/UDP pc.example.com:5062;branch=z9hG4bK1",
            "SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bK1",
            "SIP/2.0/UDP [2001:DB8:0::1];rport=9;branch=z9hG4bK1",
            "SIP/2.0/TCP 10.0.0.1:5062 ; branch=z9hG4bK1 ; rport",
        ];
        let froms = ["10.0.0.1:5062", "10.0.0.1:40000", "192.0.2.9:5062", "[2001:db8::1]:5062"];
        for via in vias {
            for from in froms {
                let text = INV.replace("SIP/2.0/UDP 10.0.0.1:5062;rport;branch=z9hG4bK1", via);
                let peer = Peer::new(Protocol::Udp, from.parse().unwrap_or_else(|e| panic!("{from}: {e}")));
                let (mut full, mut checked) = (req(&text), req(&text));
                let top = checked.validate_via().unwrap_or_else(|e| panic!("{via}: {e}"));
                add_received(&mut full, peer);
                add_received_checked(&mut checked, peer, top);
                assert_eq!(full.headers.get(&HeaderName::Via), checked.headers.get(&HeaderName::Via), "{via} from {from}");
            }
        }
    }

    #[test]
    fn received_and_rport() {
        let mut r = req(INV);
        add_received(&mut r, Peer::new(Protocol::Udp, "192.0.2.9:40000".parse().unwrap_or_else(|_| unreachable!())));
        let v = r.top_via().unwrap_or_else(|| panic!("via"));
        assert_eq!(v.received(), Some("192.0.2.9"));
        assert_eq!(v.rport(), Some(Some(40000)));
        assert_eq!(v.branch(), Some("z9hG4bK1"));
    }

    #[test]
    fn the_loop_hash_follows_what_names_the_request_and_nothing_else() {
        let h = loop_hash(&req(INV));
        // Our own Via on top and one hop fewer do not change it (the loop comes back so)…
        let mut fwd = req(INV);
        push_via(&mut fwd, Protocol::Udp, "127.0.0.1:5060".parse().unwrap_or_else(|_| unreachable!()), &make_branch(&h, 0));
        decrement_max_forwards(&mut fwd);
        assert_eq!(loop_hash(&fwd), h);
        // …while a To tag (an in-dialog request), another From tag, Call-ID or CSeq does.
        for (from, to) in
            [("To: <sip:bob@x>\n", "To: <sip:bob@x>;tag=9\n"), ("tag=1", "tag=2"), ("Call-ID: c1", "Call-ID: c2"), ("CSeq: 1 ", "CSeq: 2 ")]
        {
            assert_ne!(loop_hash(&req(&INV.replace(from, to))), h, "{to}");
        }
    }

    #[test]
    fn loops_and_routes() {
        let me = Identity::new(vec![(Protocol::Udp, "127.0.0.1:5060".parse().unwrap_or_else(|_| unreachable!()))], vec![]);
        let mut r = req(INV);
        assert_eq!(pop_own_routes(&mut r, &me), 1);
        let h = loop_hash(&r);
        let mut fwd = r.clone();
        push_via(&mut fwd, Protocol::Udp, "127.0.0.1:5060".parse().unwrap_or_else(|_| unreachable!()), &make_branch(&h, 0));
        decrement_max_forwards(&mut fwd);
        assert_eq!(fwd.max_forwards(), Some(69));
        // The same request coming back unchanged (but for our Via) is a loop…
        let mut back = fwd.clone();
        back.headers.remove_first(&HeaderName::Via);
        assert!(is_loop(&fwd, &me, &h));
        // …while a spiral with a new Request-URI hashes differently.
        back.uri = Uri::parse_str("sip:carol@127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(loop_hash(&back), h);
        assert_eq!(
            uri_destination(&Uri::parse_str("sip:a@127.0.0.1:5070;transport=TCP").unwrap_or_else(|e| panic!("{e}"))).map(|p| p.protocol),
            Some(Protocol::Tcp)
        );
    }
}
