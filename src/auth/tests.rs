//! End-to-end tests of the auth module: RFC vectors and challenge → response → verify.

use super::*;

const T0: u64 = 1_700_000_000;
const REALM: &str = "urp.example.it";
const RURI: &str = "sip:urp.example.it";

/// RFC 7616 §3.9.1 worked example.
#[test]
fn rfc7616_example() {
    let (user, pass, realm) = ("Mufasa", "Circle of Life", "http-auth@example.org");
    let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    for (alg, want) in [
        (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
        (Algorithm::Sha256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ] {
        let h1 = ha1(alg, user, realm, pass);
        let h2 = alg.digest_hex(&["GET", "/dir/index.html"]);
        assert_eq!(alg.digest_hex(&[&h1, nonce, "00000001", cnonce, "auth", &h2]), want, "{alg}");
    }
}

/// Pulls `name="value"` out of a challenge we built (values we emit need no unescaping).
fn param<'a>(challenge: &'a str, name: &str) -> &'a str {
    let key = format!("{name}=\"");
    let start = challenge.find(&key).unwrap() + key.len();
    let len = challenge[start..].find('"').unwrap();
    &challenge[start..start + len]
}

/// The client side: build an Authorization value answering `challenge`.
fn answer(challenge: &str, alg: Algorithm, user: &str, pass: &str, method: &str, uri: &str, nc: u32) -> String {
    let realm = param(challenge, "realm");
    let nonce = param(challenge, "nonce");
    let opaque = param(challenge, "opaque");
    let cnonce = "0a4f113b";
    let nc = format!("{nc:08x}");
    let h1 = alg.digest_hex(&[user, realm, pass]);
    let h2 = alg.digest_hex(&[method, uri]);
    let resp = alg.digest_hex(&[&h1, nonce, &nc, cnonce, "auth", &h2]);
    format!(
        r#"Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", response="{resp}", algorithm={alg}, cnonce="{cnonce}", nc={nc}, qop=auth, opaque="{opaque}""#
    )
}

fn auth() -> Authenticator {
    Authenticator::with_secret(AuthConfig::new(REALM), [42; 32], T0)
}

fn alice() -> StoredCredentials {
    StoredCredentials::from_password("alice", REALM, "s3cret")
}

fn run(a: &mut Authenticator, now: u64, header: &str, stored: Option<&StoredCredentials>) -> Verdict {
    let creds = DigestCredentials::parse(header).unwrap();
    a.verify(now, "REGISTER", RURI, &creds, |alg| stored.and_then(|s| s.ha1_hex(alg)), None)
}

fn challenge_for(a: &Authenticator, now: u64, alg: Algorithm) -> String {
    let cs = a.challenge(now, false);
    cs.into_iter().find(|c| c.contains(&format!("algorithm={alg},"))).unwrap()
}

#[test]
fn challenge_lists_preferred_first() {
    let a = auth();
    let cs = a.challenge(T0, false);
    assert_eq!(cs.len(), 2);
    assert!(cs[0].starts_with(&format!(r#"Digest realm="{REALM}", nonce=""#)));
    assert!(cs[0].contains("algorithm=SHA-256") && cs[0].ends_with(r#"qop="auth""#));
    assert!(cs[1].contains("algorithm=MD5"));
    assert!(a.challenge(T0, true).iter().all(|c| c.ends_with(", stale=true")));
}

#[test]
fn round_trip_both_algorithms() {
    let mut a = auth();
    let stored = alice();
    for alg in [Algorithm::Sha256, Algorithm::Md5] {
        let ch = challenge_for(&a, T0, alg);
        let h = answer(&ch, alg, "alice", "s3cret", "REGISTER", RURI, 1);
        assert_eq!(run(&mut a, T0 + 5, &h, Some(&stored)), Verdict::Authenticated { username: "alice".into() });
        // Next request on the same nonce with nc=2 is fine.
        let h2 = answer(&ch, alg, "alice", "s3cret", "REGISTER", RURI, 2);
        assert!(matches!(run(&mut a, T0 + 6, &h2, Some(&stored)), Verdict::Authenticated { .. }));
    }
}

#[test]
fn wrong_password_and_unknown_user_look_alike() {
    let mut a = auth();
    let ch = challenge_for(&a, T0, Algorithm::Sha256);
    let wrong = answer(&ch, Algorithm::Sha256, "alice", "guess", "REGISTER", RURI, 1);
    let unknown = answer(&ch, Algorithm::Sha256, "mallory", "guess", "REGISTER", RURI, 1);
    let v1 = run(&mut a, T0, &wrong, Some(&alice()));
    let v2 = run(&mut a, T0, &unknown, None);
    assert_eq!(v1, Verdict::Rejected(Reason::WrongResponse));
    assert_eq!(v2, Verdict::Rejected(Reason::UnknownUser));
    assert_eq!(std::mem::discriminant(&v1), std::mem::discriminant(&v2));
    // Even on an expired nonce, neither gets Stale (which would imply a right password).
    let v3 = run(&mut a, T0 + 1000, &wrong, Some(&alice()));
    let v4 = run(&mut a, T0 + 1000, &unknown, None);
    assert!(matches!((v3, v4), (Verdict::Rejected(_), Verdict::Rejected(_))));
}

#[test]
fn replayed_nc_rejected() {
    let mut a = auth();
    let ch = challenge_for(&a, T0, Algorithm::Md5);
    let h1 = answer(&ch, Algorithm::Md5, "alice", "s3cret", "REGISTER", RURI, 1);
    let h5 = answer(&ch, Algorithm::Md5, "alice", "s3cret", "REGISTER", RURI, 5);
    let h3 = answer(&ch, Algorithm::Md5, "alice", "s3cret", "REGISTER", RURI, 3);
    assert!(matches!(run(&mut a, T0, &h1, Some(&alice())), Verdict::Authenticated { .. }));
    assert_eq!(run(&mut a, T0, &h1, Some(&alice())), Verdict::Rejected(Reason::ReplayedNc));
    assert!(matches!(run(&mut a, T0, &h5, Some(&alice())), Verdict::Authenticated { .. }));
    assert_eq!(run(&mut a, T0, &h3, Some(&alice())), Verdict::Rejected(Reason::ReplayedNc));
}

#[test]
fn failed_attempts_do_not_consume_nc() {
    let mut a = auth();
    let ch = challenge_for(&a, T0, Algorithm::Sha256);
    let bad = answer(&ch, Algorithm::Sha256, "alice", "nope", "REGISTER", RURI, 1);
    let good = answer(&ch, Algorithm::Sha256, "alice", "s3cret", "REGISTER", RURI, 1);
    assert_eq!(run(&mut a, T0, &bad, Some(&alice())), Verdict::Rejected(Reason::WrongResponse));
    assert!(matches!(run(&mut a, T0, &good, Some(&alice())), Verdict::Authenticated { .. }));
}

#[test]
fn expired_nonce_is_stale_when_digest_right() {
    let mut a = auth();
    let ch = challenge_for(&a, T0, Algorithm::Sha256);
    let h = answer(&ch, Algorithm::Sha256, "alice", "s3cret", "REGISTER", RURI, 1);
    assert_eq!(run(&mut a, T0 + 301, &h, Some(&alice())), Verdict::Stale);
}

#[test]
fn nonce_from_other_secret_is_stale() {
    let old = Authenticator::new(AuthConfig::new(REALM));
    let ch = challenge_for(&old, T0, Algorithm::Sha256);
    let h = answer(&ch, Algorithm::Sha256, "alice", "s3cret", "REGISTER", RURI, 1);
    let mut restarted = auth();
    assert_eq!(run(&mut restarted, T0, &h, Some(&alice())), Verdict::Stale);
}

#[test]
fn tampered_nonce_rejected() {
    let mut a = auth();
    let ch = challenge_for(&a, T0, Algorithm::Sha256);
    let nonce = param(&ch, "nonce");
    // Flip one hex digit of the timestamp and re-sign the response as a client would.
    let mut t = nonce.as_bytes().to_vec();
    t[20] = if t[20] == b'f' { b'e' } else { b'f' };
    let tampered = ch.replace(nonce, std::str::from_utf8(&t).unwrap());
    let h = answer(&tampered, Algorithm::Sha256, "alice", "s3cret", "REGISTER", RURI, 1);
    assert_eq!(run(&mut a, T0, &h, Some(&alice())), Verdict::Rejected(Reason::BadNonce));
    let h = answer(&ch.replace(nonce, "deadbeef"), Algorithm::Sha256, "alice", "s3cret", "REGISTER", RURI, 1);
    assert_eq!(run(&mut a, T0, &h, Some(&alice())), Verdict::Rejected(Reason::BadNonce));
}

#[test]
fn semantic_rejections() {
    let mut a = auth();
    let st = alice();
    let ch = challenge_for(&a, T0, Algorithm::Sha256);
    let good = answer(&ch, Algorithm::Sha256, "alice", "s3cret", "REGISTER", RURI, 1);

    let other_realm = good.replace(&format!("realm=\"{REALM}\""), "realm=\"elsewhere\"");
    assert_eq!(run(&mut a, T0, &other_realm, Some(&st)), Verdict::Rejected(Reason::RealmMismatch));

    let creds = DigestCredentials::parse(&good).unwrap();
    assert_eq!(a.verify(T0, "REGISTER", "sip:other.example", &creds, |alg| st.ha1_hex(alg), None), Verdict::Rejected(Reason::UriMismatch));
    // Method is covered by the hash.
    assert_eq!(a.verify(T0, "INVITE", RURI, &creds, |alg| st.ha1_hex(alg), None), Verdict::Rejected(Reason::WrongResponse));

    let no_qop = good.replace(", qop=auth", "");
    assert_eq!(run(&mut a, T0, &no_qop, Some(&st)), Verdict::Rejected(Reason::MissingQop));
    let auth_int = good.replace("qop=auth", "qop=auth-int");
    assert_eq!(run(&mut a, T0, &auth_int, Some(&st)), Verdict::Rejected(Reason::UnsupportedQop));
    let sess = good.replace("algorithm=SHA-256", "algorithm=SHA-256-sess");
    assert_eq!(run(&mut a, T0, &sess, Some(&st)), Verdict::Rejected(Reason::UnsupportedAlgorithm));

    // An algorithm we support but do not offer is refused.
    let mut sha_only = AuthConfig::new(REALM);
    sha_only.algorithms = vec![Algorithm::Sha256];
    let mut b = Authenticator::with_secret(sha_only, [42; 32], T0);
    let md5 = answer(&challenge_for(&a, T0, Algorithm::Md5), Algorithm::Md5, "alice", "s3cret", "REGISTER", RURI, 1);
    assert_eq!(run(&mut b, T0, &md5, Some(&st)), Verdict::Rejected(Reason::UnsupportedAlgorithm));
    assert_eq!(b.challenge(T0, false).len(), 1);

    // The good one still works after all that (none of the failures consumed its nc).
    assert!(matches!(run(&mut a, T0, &good, Some(&st)), Verdict::Authenticated { .. }));
}

#[test]
fn uppercase_response_accepted() {
    let mut a = auth();
    let ch = challenge_for(&a, T0, Algorithm::Md5);
    let h = answer(&ch, Algorithm::Md5, "alice", "s3cret", "REGISTER", RURI, 1);
    let resp = param(&h, "response").to_owned();
    let h = h.replace(&resp, &resp.to_ascii_uppercase());
    assert!(matches!(run(&mut a, T0, &h, Some(&alice())), Verdict::Authenticated { .. }));
}

#[test]
fn uppercase_stored_ha1_and_overlong_response() {
    let mut a = auth();
    let ch = challenge_for(&a, T0, Algorithm::Md5);
    let h = answer(&ch, Algorithm::Md5, "alice", "s3cret", "REGISTER", RURI, 1);
    // An HA1 written in capitals into the state file by hand still verifies.
    let mut st = alice();
    st.ha1_md5 = st.ha1_md5.to_ascii_uppercase();
    assert!(matches!(run(&mut a, T0, &h, Some(&st)), Verdict::Authenticated { .. }));
    // A response longer than any digest is wrong, not a panic.
    let ch = challenge_for(&a, T0, Algorithm::Md5);
    let h = answer(&ch, Algorithm::Md5, "alice", "s3cret", "REGISTER", RURI, 1);
    let resp = param(&h, "response").to_owned();
    let h = h.replace(&resp, &resp.repeat(5));
    assert_eq!(run(&mut a, T0, &h, Some(&alice())), Verdict::Rejected(Reason::WrongResponse));
}

#[test]
fn stored_credentials_debug_hides_ha1() {
    let s = alice();
    assert!(!format!("{s:?}").contains(&s.ha1_md5));
    assert_eq!(s.ha1(Algorithm::Sha256).len(), 64);
    assert_eq!(Reason::ReplayedNc.as_str(), "replayed_nc");
}

/// `Ha1` holds exactly an HA1's hex for its algorithm, lowercased; anything else is refused.
#[test]
fn ha1_takes_only_an_ha1() {
    let st = alice();
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let text = st.ha1(alg);
        assert_eq!(Ha1::new(alg, text).map(|h| h.as_str().to_owned()).as_deref(), Some(text));
        assert_eq!(Ha1::new(alg, &text.to_ascii_uppercase()).map(|h| h.as_str().to_owned()).as_deref(), Some(text));
        assert!(Ha1::new(alg, &text[1..]).is_none(), "short");
        assert!(Ha1::new(alg, &format!("{text}0")).is_none(), "long");
        assert!(Ha1::new(alg, &format!("g{}", &text[1..])).is_none(), "not hex");
        assert!(Ha1::new(alg, "").is_none());
    }
    assert!(Ha1::new(Algorithm::Sha256, st.ha1(Algorithm::Md5)).is_none(), "an MD5 HA1 is not a SHA-256 one");
    assert_eq!(format!("{:?}", Ha1::new(Algorithm::Md5, st.ha1(Algorithm::Md5))), "Some(Ha1 { .. })", "kept out of logs");
}
