//! RFC 4475 ("SIP Torture Test Messages") conformance of the codec in `urpd::sip`.
//!
//! Every one of the 49 messages is checked for the *values* the parser extracts, not just
//! accept/reject: valid messages (§3.1.1, §3.2, §3.3, §3.4) parse, validate and yield the right
//! header values; invalid ones (§3.1.2, §3.3.1, §3.3.8, §3.3.9) fail with the right
//! `ParseError`. The same files then go through the stream framer, as LF-only variants, and
//! through serialize → reparse.
//!
//! Application-layer answers the codec does not give (it only parses; the daemon wires these):
//!
//! | file      | §      | syntax  | expected answer from the application                                    |
//! |-----------|--------|---------|-------------------------------------------------------------------------|
//! | insuf     | 3.3.1  | invalid | 400 (missing To/From/Call-ID) — `MissingHeader("To")` here             |
//! | unkscm    | 3.3.2  | valid   | 416 Unsupported URI Scheme                                              |
//! | novelsc   | 3.3.3  | valid   | 416 Unsupported URI Scheme (soap.beep)                                  |
//! | unksm2    | 3.3.4  | valid   | registrar: 400 (To of a REGISTER must be a SIP/SIPS AOR); proxy: route |
//! | bext01    | 3.3.5  | valid   | UAS 420 Bad Extension + Unsupported: (Require); proxy 420 (Proxy-Require)|
//! | invut     | 3.3.6  | valid   | 415 Unsupported Media Type + Accept: application/sdp                   |
//! | regaut01  | 3.3.7  | valid   | 401 with a challenge in a scheme we know (Digest)                       |
//! | multi01   | 3.3.8  | invalid | 400 — `DuplicateHeader` here                                            |
//! | mcl01     | 3.3.9  | invalid | 400 — `DuplicateHeader("Content-Length")` here                          |
//! | bcast     | 3.3.10 | valid   | never send anything to 255.255.255.255 (drop / do not forward there)    |
//! | zeromf    | 3.3.11 | valid   | proxy: 483 Too Many Hops; UAS may answer the OPTIONS (200)              |
//! | cparam01  | 3.3.12 | valid   | registrar: `unknownparam` is a Contact *header* param, not in the URI   |
//! | cparam02  | 3.3.13 | valid   | registrar: `unknownparam` is a URI param, part of the binding           |
//! | regescrt  | 3.3.14 | valid   | registrar 200; the escaped Route stays in the stored Contact URI       |
//! | sdp01     | 3.3.15 | valid   | 406 Not Acceptable (Accept lacks application/sdp), or 400               |
//! | badbranch | 3.2    | valid   | branch is exactly the magic cookie: a (valid) RFC 3261 branch          |
//! | inv2543   | 3.4.1  | valid   | RFC 2543 INVITE: no branch → match transactions the RFC 2543 way (§17.2.3)|
//! | badvers   | 3.1.2.16| invalid| 505 Version Not Supported (`ParseError::status()` gives it)            |

use bytes::Bytes;
use urpd::sip::{
    frame, name_addr::NameAddr, parse_datagram, parse_framed, text::split_list, uri::unescape, Frame, HeaderName, Message, Method,
    ParseError, Request, Response, Scheme, SipHeaders, Uri, Via,
};

#[path = "common/rfc4475.rs"]
mod corpus;
use corpus::{DIR, INVALID, SEMANTIC_BAD, SEMANTIC_OK, VALID};

fn load(name: &str) -> Bytes {
    let path = format!("{DIR}/{name}.dat");
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn parse_ok(name: &str) -> Message {
    let m = parse_datagram(load(name)).unwrap_or_else(|e| panic!("{name}: parse failed: {e:?}"));
    m.validate().unwrap_or_else(|e| panic!("{name}: validate failed: {e:?}"));
    m
}

fn req(name: &str) -> Request {
    match parse_ok(name) {
        Message::Request(r) => r,
        Message::Response(_) => panic!("{name}: expected a request"),
    }
}

fn resp(name: &str) -> Response {
    match parse_ok(name) {
        Message::Response(r) => r,
        Message::Request(_) => panic!("{name}: expected a response"),
    }
}

/// Parse + validate outcome as one result.
fn outcome(buf: Bytes) -> Result<Message, ParseError> {
    let m = parse_datagram(buf)?;
    m.validate()?;
    Ok(m)
}

fn vias<'a>(h: &'a urpd::sip::Headers) -> Vec<Via<'a>> {
    h.get_all(&HeaderName::Via).map(|v| Via::parse(v).unwrap_or_else(|e| panic!("via {v}: {e}"))).collect()
}

fn hdr<'a>(h: &'a urpd::sip::Headers, name: &str) -> &'a str {
    h.iter().find(|x| x.name.is(name)).map(|x| x.value).unwrap_or_else(|| panic!("no {name} header"))
}

fn na(v: &str) -> NameAddr<'_> {
    NameAddr::parse(v).unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn uri(s: &str) -> Uri {
    Uri::parse_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn corpus_is_complete() {
    let mut n = 0;
    for e in std::fs::read_dir(DIR).unwrap_or_else(|e| panic!("{DIR}: {e}")) {
        let p = e.map(|e| e.path()).unwrap_or_default();
        if p.extension().is_some_and(|x| x == "dat") {
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            assert!(
                VALID.contains(&stem.as_str())
                    || INVALID.contains(&stem.as_str())
                    || SEMANTIC_OK.contains(&stem.as_str())
                    || SEMANTIC_BAD.contains(&stem.as_str()),
                "{stem} not classified"
            );
            n += 1;
        }
    }
    assert_eq!(n, 49);
    assert_eq!(VALID.len() + INVALID.len() + SEMANTIC_OK.len() + SEMANTIC_BAD.len(), 49);
}

// ---------------------------------------------------------------------------------------------
// §3.1.1 valid messages
// ---------------------------------------------------------------------------------------------

#[test]
fn s3_1_1_1_wsinv() {
    let r = req("wsinv");
    assert_eq!(r.method, Method::Invite);
    assert_eq!(r.uri.as_str(), "sip:vivekg@chair-dnrc.example.com;unknownparam");
    assert_eq!(r.uri.user(), Some("vivekg"));
    assert_eq!(r.uri.host(), "chair-dnrc.example.com");
    assert_eq!(r.uri.params().get("unknownparam"), Some(None));
    let to = r.to_hdr().expect("To");
    assert_eq!(to.uri, "sip:vivekg@chair-dnrc.example.com");
    assert_eq!(r.to_tag(), Some("1918181833n"));
    let from = r.from_hdr().expect("From");
    assert_eq!(from.display, Some(r#""J Rosenberg \\\"""#));
    assert_eq!(from.uri, "sip:jdrosen@example.com");
    assert_eq!(r.from_tag(), Some("98asjd8"));
    assert_eq!(r.max_forwards(), Some(68));
    assert_eq!(r.call_id(), Some("wsinv.ndaksdj@192.0.2.1"));
    assert_eq!(r.cseq(), Some((9, "INVITE")));
    let v = vias(&r.headers);
    assert_eq!(v.len(), 3);
    assert_eq!((v[0].transport, v[0].host, v[0].branch()), ("UDP", "192.0.2.2", Some("390skdjuw")));
    assert!(!v[0].is_rfc3261());
    assert_eq!((v[1].transport, v[1].host, v[1].branch()), ("TCP", "spindle.example.com", Some("z9hG4bK9ikj8")));
    assert_eq!((v[2].transport, v[2].host, v[2].branch()), ("UDP", "192.168.255.111", Some("z9hG4bK30239")));
    assert_eq!(r.branch(), Some("390skdjuw"));
    // Route: one value, loose-routing URI with unknown params.
    let routes: Vec<_> = r.headers.get_all(&HeaderName::Route).collect();
    assert_eq!(routes.len(), 1);
    let route = na(routes[0]);
    assert_eq!(route.uri, "sip:services.example.com;lr;unknownwith=value;unknown-no-value");
    let ru = uri(route.uri);
    assert!(ru.is_loose_route());
    assert_eq!(ru.params().get("unknownwith"), Some(Some("value")));
    assert_eq!(ru.params().get("unknown-no-value"), Some(None));
    // Contact with quoted display name and q=0.33 after folded whitespace.
    let c = na(r.headers.get(&HeaderName::Contact).expect("Contact"));
    assert_eq!(c.display, Some(r#""Quoted string \"\"""#));
    assert_eq!(c.uri, "sip:jdrosen@example.com");
    assert_eq!(c.q(), Some(330));
    assert_eq!(c.params().get("newparam"), Some(Some("newvalue")));
    assert_eq!(c.params().get("secondparam"), Some(None));
    // Empty compact Subject, unknown headers kept with their values, folded value joined.
    assert_eq!(r.headers.get(&HeaderName::Subject), Some(""));
    assert_eq!(hdr(&r.headers, "NewFangledHeader"), "newfangled value continued newfangled value");
    assert_eq!(hdr(&r.headers, "UnknownHeaderWithUnusualValue"), ";;,,;;,;");
    assert_eq!(r.headers.get(&HeaderName::ContentType), Some("application/sdp"));
    assert_eq!(r.headers.get(&HeaderName::ContentLength), Some("150"));
    assert_eq!(r.body.len(), 150);
    assert!(r.body.starts_with(b"v=0\r\n"));
    assert!(r.body.ends_with(b"a=rtpmap:31 LPC\r\n"));
    // Unknown headers keep their place between known ones.
    let order: Vec<&str> = r.headers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        order,
        [
            "To",
            "From",
            "Max-Forwards",
            "Call-ID",
            "Content-Length",
            "CSeq",
            "Via",
            "Subject",
            "NewFangledHeader",
            "UnknownHeaderWithUnusualValue",
            "Content-Type",
            "Route",
            "Via",
            "Via",
            "Contact"
        ]
    );
}

#[test]
fn s3_1_1_2_intmeth() {
    let r = req("intmeth");
    let m = "!interesting-Method0123456789_*+`.%indeed'~";
    assert_eq!(r.method.as_str(), m);
    assert!(matches!(r.method, Method::Other(_)));
    assert_eq!(r.cseq(), Some((139122385, m)));
    assert_eq!(r.uri.scheme(), Scheme::Sip);
    assert_eq!(r.uri.user(), Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"));
    assert_eq!(r.uri.host(), "example.com");
    assert_eq!(r.uri.headers(), None);
    assert_eq!(r.branch(), Some("z9hG4bK-.!%66*_+`'~"));
    assert_eq!(r.max_forwards(), Some(255));
    let to = r.to_hdr().expect("To");
    assert_eq!(to.display, Some("\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\""));
    assert_eq!(to.uri, "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com");
    let from = r.from_hdr().expect("From");
    assert_eq!(from.display, Some("token1~` token2'+_ token3*%!.-"));
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(from.params().get("fromParam''~+*_!.-%"), Some(Some("работающий")));
    assert_eq!(r.call_id(), Some("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"));
    let ext = r.headers.iter().find(|h| matches!(h.name, HeaderName::Other(_))).expect("extension header");
    assert_eq!(ext.name.as_str(), "extensionHeader-!.%*+_`'~");
    assert_eq!(ext.value, "\u{feff}大停電");
    assert!(r.body.is_empty());
}

#[test]
fn s3_1_1_3_esc01() {
    let r = req("esc01");
    assert_eq!(r.uri.user(), Some("sips%3Auser%40example.com"));
    assert_eq!(unescape(r.uri.user().unwrap_or_default()), "sips:user@example.com");
    assert_eq!(r.uri.host(), "example.net");
    let to = r.to_hdr().expect("To");
    let tu = uri(to.uri);
    assert_eq!(tu.user(), Some("%75se%72"));
    assert_eq!(unescape(tu.user().unwrap_or_default()), "user");
    let from = r.from_hdr().expect("From");
    assert_eq!(unescape(uri(from.uri).user().unwrap_or_default()), "I have spaces");
    assert_eq!(from.tag(), Some("938"));
    assert_eq!(r.call_id(), Some("esc01.239409asdfakjkn23onasd0-3234")); // i:
    assert_eq!(r.headers.get(&HeaderName::ContentType), Some("application/sdp")); // C:
    let c = na(r.headers.get(&HeaderName::Contact).expect("Contact"));
    let cu = uri(c.uri);
    assert_eq!(cu.user(), Some("cal%6Cer"));
    assert_eq!(cu.params_str(), ";%6C%72;n%61me=v%61lue%25%34%31");
    assert_eq!(r.body.len(), 150);
}

#[test]
fn s3_1_1_4_escnull() {
    let r = req("escnull");
    assert_eq!(r.method, Method::Register);
    let tu = uri(r.to_hdr().expect("To").uri);
    assert_eq!(tu.user(), Some("null-%00-null"));
    assert_eq!(unescape(tu.user().unwrap_or_default()), "null-\0-null");
    assert_eq!(r.from_tag(), Some("839923423"));
    let contacts: Vec<_> = r.headers.get_all(&HeaderName::Contact).map(|c| uri(na(c).uri)).collect();
    assert_eq!(contacts.len(), 2);
    assert_eq!(contacts[0].user(), Some("%00"));
    assert_eq!(contacts[1].user(), Some("%00%00"));
    assert_eq!(r.headers.get(&HeaderName::ContentLength), Some("0")); // L:0
    assert!(r.body.is_empty());
}

#[test]
fn s3_1_1_5_esc02() {
    let r = req("esc02");
    // %-escapes are not decoded in a method token: this is not a REGISTER.
    assert_eq!(r.method, Method::Other("RE%47IST%45R".into()));
    assert_eq!(r.cseq(), Some((29344, "RE%47IST%45R")));
    assert_eq!(r.to_hdr().expect("To").display, Some("\"%Z%45\""));
    assert_eq!(r.branch(), Some("z9hG4bK209%fzsnel234"));
    // C%6Fntact is an unknown header, not a Contact.
    assert_eq!(r.headers.count(&HeaderName::Contact), 2);
    assert_eq!(hdr(&r.headers, "C%6Fntact"), "<sip:alias2@host2.example.com>");
    assert!(r.body.is_empty());
}

#[test]
fn s3_1_1_6_lwsdisp() {
    let r = req("lwsdisp");
    assert_eq!(r.method, Method::Options);
    let from = r.from_hdr().expect("From");
    assert_eq!(from.display, Some("caller"));
    assert_eq!(from.uri, "sip:caller@example.com");
    assert_eq!(from.tag(), Some("323"));
}

#[test]
fn s3_1_1_7_longreq() {
    let r = req("longreq");
    let to = r.to_hdr().expect("To");
    let disp = to.display.unwrap_or_default();
    assert!(disp.starts_with("\"I have a user name of extremeextreme"));
    assert_eq!(disp.matches("extreme").count(), 10);
    let tu = uri(to.uri);
    assert_eq!(tu.port(), Some(6000));
    assert!(tu.params().any(|(n, _)| n.ends_with("ParameterNameWithNoValue")));
    assert_eq!(r.headers.get(&HeaderName::To).map(|v| v.len()), Some(486));
    assert_eq!(r.headers.get(&HeaderName::From).map(|v| v.len()), Some(590)); // F:
    assert!(r.from_tag().is_some_and(|t| t.starts_with("12982982982") && t.len() > 100));
    let cid = r.call_id().unwrap_or_default();
    assert_eq!(cid.len(), 141);
    assert_eq!(cid.matches("really").count(), 20);
    assert_eq!(r.cseq(), Some((3882340, "INVITE")));
    let unk = r.headers.iter().find(|h| h.name.as_str().starts_with("Unknown-")).expect("unknown header");
    assert_eq!(unk.name.as_str().matches("Long").count(), 20);
    assert!(unk.value.starts_with("unknown-longlong") && unk.value.ends_with("-parameter-value"));
    let v = vias(&r.headers);
    assert_eq!(v.len(), 34);
    for (i, via) in v.iter().take(33).enumerate() {
        assert_eq!(via.host, format!("sip{}.example.com", 33 - i));
        assert_eq!(via.transport, "TCP");
    }
    assert_eq!(v[33].host, "host.example.com");
    assert_eq!(v[33].received(), Some("192.0.2.5"));
    assert_eq!(v[33].branch().map(|b| b.matches("long").count()), Some(50));
    assert_eq!(r.max_forwards(), Some(70));
    let c = na(r.headers.get(&HeaderName::Contact).expect("Contact"));
    assert!(c.uri.contains("amazinglylongcallername"));
    assert_eq!(r.body.len(), 150); // l: 150
}

#[test]
fn s3_1_1_8_dblreq() {
    let r = req("dblreq");
    // Only the first request (the REGISTER) is taken from the datagram; the INVITE is ignored.
    assert_eq!(r.method, Method::Register);
    assert_eq!(r.call_id(), Some("dblreq.0ha0isndaksdj99sdfafnl3lk233412"));
    assert_eq!(r.cseq(), Some((8, "REGISTER")));
    assert_eq!(r.max_forwards(), Some(8));
    assert_eq!(r.branch(), Some("z9hG4bKkdjuw23492"));
    assert!(r.body.is_empty());
    assert!(r.headers.get(&HeaderName::ContentType).is_none());
    assert_eq!(r.headers.len(), 8);
}

#[test]
fn s3_1_1_9_semiuri() {
    let r = req("semiuri");
    assert_eq!(r.uri.user(), Some("user;par=u%40example.net"));
    assert_eq!(r.uri.host(), "example.com");
    assert_eq!(r.uri.params_str(), "");
    assert_eq!(r.max_forwards(), Some(3));
    let accept = r.headers.get(&HeaderName::Accept).expect("Accept");
    assert_eq!(accept, "application/sdp, application/pkcs7-mime, multipart/mixed, multipart/signed, message/sip, message/sipfrag");
    assert_eq!(split_list(accept).map(|l| l.len()), Some(6));
}

#[test]
fn s3_1_1_10_transports() {
    let r = req("transports");
    let v = vias(&r.headers);
    let t: Vec<_> = v.iter().map(|v| (v.transport, v.host)).collect();
    assert_eq!(
        t,
        [
            ("UDP", "t1.example.com"),
            ("SCTP", "t2.example.com"),
            ("TLS", "t3.example.com"),
            ("UNKNOWN", "t4.example.com"),
            ("TCP", "t5.example.com")
        ]
    );
    assert!(!v[0].is_reliable() && v[1].is_reliable());
    assert_eq!(r.call_id(), Some("transports.kijh4akdnaqjkwendsasfdj"));
}

#[test]
fn s3_1_1_11_mpart01() {
    let r = req("mpart01");
    assert_eq!(r.method, Method::Message);
    assert_eq!(r.body.len(), 553);
    assert!(r.body.starts_with(b"--7a9cbec02ceef655\r\nContent-Type: text/plain\r\n"));
    assert!(r.body.ends_with(b"\r\n--7a9cbec02ceef655--\r\n"));
    assert!(std::str::from_utf8(&r.body).is_err(), "binary body kept as bytes");
    assert_eq!(r.headers.get(&HeaderName::ContentType), Some("multipart/mixed;boundary=7a9cbec02ceef655"));
    let v = r.top_via().expect("Via");
    assert_eq!((v.host, v.port, v.rport()), ("127.0.0.1", Some(5070), Some(None)));
    assert_eq!(r.headers.get(&HeaderName::Route), Some("<sip:127.0.0.1:5080>"));
    assert!(r.headers.get(&HeaderName::Identity).is_some_and(|i| i.starts_with("r5mwreLuyDRYBi") && i.ends_with("A=")));
    assert_eq!(r.headers.get(&HeaderName::Date), Some("Sat, 15 Oct 2005 04:44:56 GMT"));
}

#[test]
fn s3_1_1_12_unreason() {
    let r = resp("unreason");
    assert_eq!(r.status, 200);
    assert_eq!(r.reason.as_str(), "= 2**3 * 5**2 но сто девяносто девять - простое");
    assert_eq!(r.cseq(), Some((35, "INVITE")));
    assert_eq!(r.to_tag(), Some("2229"));
    assert_eq!(r.body.len(), 154);
}

#[test]
fn s3_1_1_13_noreason() {
    let r = resp("noreason");
    assert_eq!(r.status, 100);
    assert_eq!(r.reason.as_str(), "");
    assert_eq!(r.branch(), Some("z9hG4bK2398ndaoe"));
    assert!(r.body.is_empty());
}

// ---------------------------------------------------------------------------------------------
// §3.1.2 invalid messages: the right error
// ---------------------------------------------------------------------------------------------

#[test]
fn s3_1_2_invalid_with_reason() {
    use ParseError::*;
    let cases: [(&str, ParseError); 19] = [
        ("badinv01", BadHeader("Via")),          // 3.1.2.1 extraneous separators ;;,;,,
        ("clerr", BodyTooShort),                 // 3.1.2.2 Content-Length 9999 > body
        ("ncl", BadContentLength),               // 3.1.2.3 Content-Length -999
        ("scalar02", BadHeader("Max-Forwards")), // 3.1.2.4 Max-Forwards 300 (CSeq too)
        ("scalarlg", BadHeader("CSeq")),         // 3.1.2.5 CSeq 9292394834772304023312
        ("quotbal", BadHeader("To")),            // 3.1.2.6 unterminated quote
        ("ltgtruri", BadRequestUri),             // 3.1.2.7 <> around the Request-URI
        ("lwsruri", BadRequestLine),             // 3.1.2.8 whitespace inside the Request-URI
        ("lwsstart", BadRequestLine),            // 3.1.2.9 double spaces in the request line
        ("trws", BadRequestLine),                // 3.1.2.10 trailing spaces after SIP/2.0
        ("escruri", BadRequestUri),              // 3.1.2.11 ?headers in the Request-URI
        ("baddate", BadHeader("Date")),          // 3.1.2.12 EST, not GMT
        ("regbadct", BadHeader("Contact")),      // 3.1.2.13 addr-spec with ? needs <>
        ("badaspec", BadHeader("To")),           // 3.1.2.14 spaces inside < sip:... >
        ("baddn", BadHeader("From")),            // 3.1.2.15 unquoted display name with ,
        ("badvers", BadVersion),                 // 3.1.2.16 SIP/7.0
        ("mismatch01", CSeqMismatch),            // 3.1.2.17 OPTIONS vs CSeq INVITE
        ("mismatch02", CSeqMismatch),            // 3.1.2.18 NEWMETHOD vs CSeq INVITE
        ("bigcode", BadStatus),                  // 3.1.2.19 status 4294967301
    ];
    for (name, want) in cases {
        assert_eq!(outcome(load(name)).err(), Some(want.clone()), "{name}");
    }
    assert_eq!(BadVersion.status(), 505);
    assert_eq!(outcome(load("badvers")).err().map(|e| e.status()), Some(505));
}

// ---------------------------------------------------------------------------------------------
// §3.2, §3.3, §3.4
// ---------------------------------------------------------------------------------------------

#[test]
fn s3_2_badbranch() {
    let r = req("badbranch");
    let v = r.top_via().expect("Via");
    assert_eq!(v.branch(), Some("z9hG4bK"));
    assert!(v.is_rfc3261());
}

#[test]
fn s3_3_semantics_parse() {
    for name in SEMANTIC_OK {
        parse_ok(name);
    }
    use ParseError::*;
    assert_eq!(outcome(load("insuf")).err(), Some(MissingHeader("To")));
    assert_eq!(outcome(load("multi01")).err(), Some(DuplicateHeader("To")));
    assert_eq!(outcome(load("mcl01")).err(), Some(DuplicateHeader("Content-Length")));
    assert!(outcome(load("insuf")).err().is_some_and(|e| e.status() == 400));
}

#[test]
fn s3_3_semantics_values() {
    let r = req("unkscm");
    assert_eq!(r.uri.scheme(), Scheme::Other);
    assert_eq!(r.uri.as_str(), "nobodyKnowsThisScheme:totallyopaquecontent");
    let r = req("novelsc");
    assert_eq!(r.uri.scheme(), Scheme::Other);
    assert_eq!(r.uri.as_str(), "soap.beep://192.0.2.103:3002");
    let r = req("unksm2");
    assert_eq!(uri(r.to_hdr().expect("To").uri).scheme(), Scheme::Other);
    assert_eq!(r.to_hdr().expect("To").uri, "isbn:2983792873");
    assert_eq!(r.from_hdr().expect("From").uri, "http://www.example.com");
    assert_eq!(na(r.headers.get(&HeaderName::Contact).expect("Contact")).uri, "name:John_Smith");
    let r = req("bext01");
    let req_tags = split_list(r.headers.get(&HeaderName::Require).expect("Require")).unwrap_or_default();
    assert_eq!(req_tags, ["nothingSupportsThis", "nothingSupportsThisEither"]);
    let preq = split_list(r.headers.get(&HeaderName::ProxyRequire).expect("Proxy-Require")).unwrap_or_default();
    assert_eq!(preq, ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]);
    let r = req("invut");
    assert_eq!(r.headers.get(&HeaderName::ContentType), Some("application/unknownformat"));
    assert_eq!(r.body.len(), 40);
    let r = req("regaut01");
    assert_eq!(r.headers.get(&HeaderName::Authorization), Some("NoOneKnowsThisScheme opaque-data=here"));
    assert!(r.body.is_empty());
    let r = resp("bcast");
    let v = vias(&r.headers);
    assert_eq!(v.len(), 2);
    assert_eq!(v[1].host, "255.255.255.255");
    assert_eq!(r.body.len(), 154);
    let r = req("zeromf");
    assert_eq!(r.max_forwards(), Some(0));
    let r = req("cparam01");
    let c = na(r.headers.get(&HeaderName::Contact).expect("Contact"));
    assert!(!c.bracketed);
    assert_eq!(c.uri, "sip:+19725552222@gw1.example.net");
    assert_eq!(c.params().get("unknownparam"), Some(None));
    let r = req("cparam02");
    let c = na(r.headers.get(&HeaderName::Contact).expect("Contact"));
    assert_eq!(c.uri, "sip:+19725552222@gw1.example.net;unknownparam");
    assert_eq!(c.params().get("unknownparam"), None);
    assert_eq!(uri(c.uri).params().get("unknownparam"), Some(None));
    let r = req("regescrt");
    let c = na(r.headers.get(&HeaderName::Contact).expect("Contact")); // M:
    assert_eq!(uri(c.uri).headers(), Some("Route=%3Csip:sip.example.com%3E"));
    assert_eq!(unescape("Route=%3Csip:sip.example.com%3E"), "Route=<sip:sip.example.com>");
    let r = req("sdp01");
    assert_eq!(r.headers.get(&HeaderName::Accept), Some("text/nobodyKnowsThis"));
    assert_eq!(r.body.len(), 150);
}

#[test]
fn s3_4_inv2543() {
    let r = req("inv2543");
    let v = r.top_via().expect("Via");
    assert_eq!(v.host, "iftgw.example.com");
    assert_eq!(v.branch(), None);
    assert!(!v.is_rfc3261());
    assert_eq!(r.branch(), None);
    assert_eq!(r.max_forwards(), None);
    assert_eq!(r.from_tag(), None);
    assert_eq!(r.to_tag(), None);
    // An addr-spec without <>: `;user=phone` is a To *header* parameter (RFC 3261 §20.10).
    let to = r.to_hdr().expect("To");
    assert_eq!(to.uri, "sip:+16505552222@ss1.example.net");
    assert_eq!(to.params().get("user"), Some(Some("phone")));
    let rr = na(r.headers.get(&HeaderName::RecordRoute).expect("Record-Route"));
    assert_eq!(uri(rr.uri).params().get("maddr"), Some(Some("ss1.example.com")));
    // No Content-Length over UDP: the body is the rest of the datagram.
    assert!(r.headers.get(&HeaderName::ContentLength).is_none());
    assert_eq!(r.body.len(), 105);
    assert!(r.body.starts_with(b"v=0\r\n"));
}

// ---------------------------------------------------------------------------------------------
// The same messages through the stream framer
// ---------------------------------------------------------------------------------------------

/// Files whose Content-Length describes the body exactly (so stream framing must give the
/// same message as the datagram parser).
fn correct_cl(name: &str) -> bool {
    // inv2543 has no Content-Length (stream framing: empty body); clerr/ncl/mcl01 have a wrong,
    // negative or double one; baddn lacks the blank line after the headers.
    !matches!(name, "inv2543" | "clerr" | "ncl" | "mcl01" | "baddn")
}

fn all_names() -> impl Iterator<Item = &'static str> {
    VALID.into_iter().chain(INVALID).chain(SEMANTIC_OK).chain(SEMANTIC_BAD)
}

#[test]
fn framer_agrees_with_datagram_parser() {
    for name in all_names().filter(|n| correct_cl(n)) {
        let buf = load(name);
        let n = match frame(&buf, 65_535) {
            Ok(Frame::Message(n)) => n,
            other => panic!("{name}: frame gave {other:?}"),
        };
        let framed = parse_framed(buf.slice(..n)).and_then(|m| m.validate().map(|_| m));
        assert_eq!(framed, outcome(buf.clone()), "{name}");
        if name != "dblreq" && framed.is_ok() {
            assert_eq!(n, buf.len(), "{name}: message is the whole file");
        }
    }
}

#[test]
fn framer_split_dblreq_into_two_requests() {
    // On a stream dblreq is two requests back to back. The INVITE's SDP is 155 bytes but its
    // Content-Length says 150, so the stream then holds "C\r\n\r\n": framed as a (bad) message.
    let buf = load("dblreq");
    let mut off = 0;
    let mut msgs = Vec::new();
    while off < buf.len() {
        match frame(&buf[off..], 65_535).unwrap_or_else(|e| panic!("{e:?}")) {
            Frame::KeepAlive(k) => off += k,
            Frame::Message(n) => {
                msgs.push(parse_framed(buf.slice(off..off + n)));
                off += n;
            }
            Frame::Incomplete => panic!("incomplete at {off}"),
        }
    }
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[2], Err(ParseError::BadRequestLine));
    let methods: Vec<_> = msgs[..2]
        .iter()
        .map(|m| match m {
            Ok(Message::Request(r)) => r.method.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(methods, [Method::Register, Method::Invite]);
    assert!(msgs[..2].iter().all(|m| m.as_ref().is_ok_and(|m| m.validate().is_ok())));
    if let Ok(Message::Request(inv)) = &msgs[1] {
        assert_eq!(inv.body.len(), 150);
        assert_eq!(inv.to_hdr().map(|t| t.uri), Some("sip:joe@example.com")); // t:
    }
}

#[test]
fn framer_edge_cases_of_the_corpus() {
    // Content-Length 9999: the framer waits for more bytes.
    assert_eq!(frame(&load("clerr"), 65_535), Ok(Frame::Incomplete));
    // ... and a limit below that refuses the message.
    assert_eq!(frame(&load("clerr"), 4096), Err(ParseError::TooLarge));
    assert_eq!(frame(&load("ncl"), 65_535), Err(ParseError::BadContentLength));
    assert_eq!(frame(&load("mcl01"), 65_535), Err(ParseError::DuplicateHeader("Content-Length")));
    // baddn.dat ends after "l: 0\r\n": on a stream the header block is not complete yet.
    assert_eq!(frame(&load("baddn"), 65_535), Ok(Frame::Incomplete));
    // inv2543 without Content-Length: on a stream, no body (RFC 3261 §18.3).
    let buf = load("inv2543");
    assert_eq!(frame(&buf, 65_535), Ok(Frame::Message(340)));
    let m = parse_framed(buf.slice(..340)).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(match m {
        Message::Request(r) => r.body.is_empty(),
        Message::Response(_) => false,
    });
    // Every file split at every byte: the framer never reports a message before it is whole.
    for name in all_names().filter(|n| correct_cl(n)) {
        let buf = load(name);
        let Ok(Frame::Message(n)) = frame(&buf, 65_535) else { continue };
        for cut in 0..n {
            assert_eq!(frame(&buf[..cut], 65_535), Ok(Frame::Incomplete), "{name} cut at {cut}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// LF-only line ends
// ---------------------------------------------------------------------------------------------

/// Replaces CRLF by LF in the header block (the body is binary data whose length
/// Content-Length fixes, so it is left alone).
fn lf_only(buf: &[u8]) -> Bytes {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").map_or(buf.len(), |p| p + 4);
    let mut out = Vec::with_capacity(buf.len());
    let head = &buf[..end];
    let mut i = 0;
    while i < head.len() {
        if head[i] == b'\r' && head.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(head[i]);
        i += 1;
    }
    out.extend_from_slice(&buf[end..]);
    Bytes::from(out)
}

#[test]
fn lf_only_variants_parse_the_same() {
    for name in VALID.into_iter().chain(SEMANTIC_OK) {
        let crlf = parse_ok(name);
        let lf = lf_only(&load(name));
        assert!(!lf[..lf.len().min(40)].contains(&b'\r'), "{name}");
        let m = outcome(lf.clone()).unwrap_or_else(|e| panic!("{name} (LF): {e:?}"));
        assert_eq!(m, crlf, "{name} (LF) differs");
        if correct_cl(name) {
            let Ok(Frame::Message(n)) = frame(&lf, 65_535) else { panic!("{name} (LF): not framed") };
            let f = parse_framed(lf.slice(..n)).unwrap_or_else(|e| panic!("{name} (LF framed): {e:?}"));
            assert_eq!(f, crlf, "{name} (LF framed) differs");
        }
    }
    // Invalid messages stay invalid with the same reason.
    for name in INVALID {
        assert_eq!(outcome(lf_only(&load(name))).err(), outcome(load(name)).err(), "{name} (LF)");
    }
}

// ---------------------------------------------------------------------------------------------
// serialize → reparse
// ---------------------------------------------------------------------------------------------

fn without_cl(m: &Message) -> Vec<(String, String)> {
    m.headers().iter().filter(|h| *h.name != HeaderName::ContentLength).map(|h| (h.name.as_str().to_owned(), h.value.to_owned())).collect()
}

#[test]
fn serialize_reparse_round_trip() {
    for name in VALID.into_iter().chain(SEMANTIC_OK).chain(["insuf", "multi01"]) {
        let m = parse_datagram(load(name)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let out = m.to_bytes();
        let again = parse_datagram(out.clone()).unwrap_or_else(|e| panic!("{name} reparse: {e:?}"));
        assert_eq!(again.validate(), m.validate(), "{name}: validation differs after round trip");
        assert_eq!(without_cl(&again), without_cl(&m), "{name}: headers differ");
        match (&m, &again) {
            (Message::Request(a), Message::Request(b)) => {
                assert_eq!(a.method, b.method, "{name}");
                assert_eq!(a.uri, b.uri, "{name}");
                assert_eq!(a.body, b.body, "{name}");
            }
            (Message::Response(a), Message::Response(b)) => {
                assert_eq!((a.status, &a.reason, &a.body), (b.status, &b.reason, &b.body), "{name}");
            }
            _ => panic!("{name}: kind changed"),
        }
        // Serializing the reparsed message is a fixed point, and it frames as one message.
        assert_eq!(again.to_bytes(), out, "{name}: not a fixed point");
        assert_eq!(frame(&out, 65_535), Ok(Frame::Message(out.len())), "{name}");
        assert_eq!(parse_framed(out.clone()).ok().as_ref(), Some(&again), "{name}: framed reparse");
    }
}
