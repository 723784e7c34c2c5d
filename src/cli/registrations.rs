//! `urpd registrations [AOR]`: the live registrations, asked over the admin socket.

use std::path::Path;
use std::process::ExitCode;

use super::status::ask;
use super::RegistrationsArgs;
use crate::daemon::admin::{AdminRequest, RegistrationEntry};

/// Runs `urpd registrations`.
pub async fn registrations(state_dir: &Path, args: RegistrationsArgs) -> ExitCode {
    let aor = args.aor.as_deref().map(aor_key);
    let answer = match ask(state_dir, &AdminRequest::Registrations { aor: aor.clone() }).await {
        Ok(a) => a,
        Err(code) => return code,
    };
    let Some(list) = answer.get("registrations").and_then(|s| serde_json::from_value::<Vec<RegistrationEntry>>(s.clone()).ok()) else {
        eprintln!("urpd: the daemon's answer is not a registration list (a different urpd version?): {answer}");
        return ExitCode::from(1);
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".into()));
    } else if list.is_empty() {
        match &aor {
            Some(a) => println!("no contact registered for {a}"),
            None => println!("no registrations"),
        }
    } else {
        print!("{}", render(&list));
    }
    if aor.is_some() && list.is_empty() {
        return ExitCode::from(4);
    }
    ExitCode::SUCCESS
}

/// The registrar's key for what an admin typed: the user part of `sip:alice@x`, `alice@x` or
/// `alice` (`%XX` escapes decoded, case kept, as the registrar does).
pub fn aor_key(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_prefix('<').and_then(|s| s.strip_suffix('>')).unwrap_or(s);
    let lower = s.to_ascii_lowercase();
    let s = if lower.starts_with("sips:") {
        &s[5..]
    } else if lower.starts_with("sip:") {
        &s[4..]
    } else {
        s
    };
    let user = s.split(['@', ';']).next().unwrap_or(s);
    unescape(user)
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = ((b[i + 1] as char).to_digit(16), (b[i + 2] as char).to_digit(16)) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The table.
pub fn render(list: &[RegistrationEntry]) -> String {
    let rows: Vec<[String; 6]> = list
        .iter()
        .map(|r| {
            [
                r.aor.clone(),
                r.contact.clone(),
                format!("{}s", r.expires_in),
                format!("{}.{:03}", r.q / 1000, r.q % 1000).trim_end_matches('0').trim_end_matches('.').to_owned(),
                r.received.clone(),
                r.user_agent.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let head = ["AOR", "CONTACT", "EXPIRES", "Q", "RECEIVED", "USER-AGENT"];
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<width$}  ", width = w[i]));
            }
        }
        l.trim_end().to_owned() + "\n"
    };
    let mut out = line(&head);
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aor_forms() {
        assert_eq!(aor_key("alice"), "alice");
        assert_eq!(aor_key("alice@urp.example.it"), "alice");
        assert_eq!(aor_key("sip:Alice@urp.example.it;transport=tcp"), "Alice");
        assert_eq!(aor_key("<SIPS:%41lice@x>"), "Alice");
        assert_eq!(aor_key("100%"), "100%");
    }

    #[test]
    fn table() {
        let e = RegistrationEntry {
            aor: "alice".into(),
            contact: "sip:alice@127.0.0.1:5061".into(),
            expires_in: 3599,
            q: 500,
            received: "udp:127.0.0.1:5061".into(),
            user_agent: None,
        };
        let t = render(&[e]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("AOR  "), "{t}");
        assert!(lines[1].contains("3599s") && lines[1].contains(" 0.5 ") && lines[1].ends_with('-'), "{t}");
    }
}
