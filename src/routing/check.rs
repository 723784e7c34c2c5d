//! Checks across rules and files: shadowed rules, numbers routed by two administrations,
//! redirect loops.

use std::collections::BTreeMap;

use super::diag::{Diagnostic, Severity, Sink};
use super::load::Parsed;
use super::model::*;

/// A rule's position in the set's global order.
#[derive(Clone, Copy)]
struct Id {
    file: usize,
    rule: usize,
}

fn all_rules(set: &[Parsed]) -> Vec<Id> {
    set.iter().enumerate().flat_map(|(f, p)| (0..p.plan.rules.len()).map(move |r| Id { file: f, rule: r })).collect()
}

fn rule(set: &[Parsed], id: Id) -> &Rule {
    &set[id.file].plan.rules[id.rule]
}

fn where_(set: &[Parsed], id: Id) -> String {
    let r = rule(set, id);
    let file = set[id.file].src.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    format!("`{}` ({}:{})", r.name, file, r.line)
}

/// Runs every cross check.
pub(crate) fn check(set: &[Parsed], diags: &mut Vec<Diagnostic>) {
    duplicates(set, diags);
    shadowed(set, diags);
    redirect_loops(set, diags);
}

/// The same exact called number in two administrations: only the first (file order) is used
/// for the calls both rules match.
fn duplicates(set: &[Parsed], diags: &mut Vec<Diagnostic>) {
    let mut first: BTreeMap<&str, Id> = BTreeMap::new();
    for id in all_rules(set) {
        if let Some(CalledMatch::Exact(n)) = &rule(set, id).cond.called {
            match first.get(n.as_str()) {
                Some(prev) if prev.file != id.file => {
                    let at = set[id.file].metas[id.rule].called_at.unwrap_or(0);
                    let msg = format!(
                        "number {n} is also routed by administration `{}` in rule {}: the earlier file wins where both match",
                        set[prev.file].plan.id,
                        where_(set, *prev)
                    );
                    Sink { src: &set[id.file].src, out: diags }.at(Severity::Warning, at, msg);
                }
                Some(_) => {}
                None => {
                    first.insert(n, id);
                }
            }
        }
    }
}

/// Whether every call `b` matches is matched by `a` (conservative: false when unsure).
fn covers(a: &Conditions, b: &Conditions, same_file: bool) -> bool {
    let called = match (&a.called, &b.called) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(CalledMatch::Exact(x)), Some(CalledMatch::Exact(y))) => x == y,
        (Some(CalledMatch::Prefix(p)), Some(CalledMatch::Exact(y))) => y.starts_with(p.as_str()),
        (Some(CalledMatch::Prefix(p)), Some(CalledMatch::Prefix(q))) => q.starts_with(p.as_str()),
        (Some(CalledMatch::Regex(re, _)), Some(CalledMatch::Exact(y))) => re.is_match(y),
        (Some(CalledMatch::Regex(_, s)), Some(CalledMatch::Regex(_, t))) => s == t,
        _ => false,
    };
    let caller = match (&a.caller, &b.caller) {
        (None, _) => true,
        (Some(CallerMatch::Prefix(p)), Some(CallerMatch::Exact(y))) => y.starts_with(p.as_str()),
        (Some(CallerMatch::Prefix(p)), Some(CallerMatch::Prefix(q))) => q.starts_with(p.as_str()),
        (Some(x), Some(y)) => x == y,
        (Some(_), None) => false,
    };
    // Hours and holiday calendars are per file: the same name elsewhere is another thing.
    let time = a.time.is_none() || (same_file && a.time == b.time);
    let holiday = a.holiday.is_none() || (same_file && a.holiday == b.holiday);
    fn eq<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
        a.is_none() || a == b
    }
    called && caller && time && holiday && eq(&a.topic, &b.topic) && eq(&a.known_caller, &b.known_caller) && eq(&a.open_case, &b.open_case)
}

fn shadowed(set: &[Parsed], diags: &mut Vec<Diagnostic>) {
    let ids = all_rules(set);
    for (j, &b) in ids.iter().enumerate() {
        if let Some(&a) = ids[..j].iter().find(|&&a| covers(&rule(set, a).cond, &rule(set, b).cond, a.file == b.file)) {
            let msg = format!(
                "rule `{}` is never used: the earlier rule {} matches every call it matches (move it up or narrow the earlier one)",
                rule(set, b).name,
                where_(set, a)
            );
            Sink { src: &set[b.file].src, out: diags }.at(Severity::Warning, set[b.file].metas[b.rule].at, msg);
        }
    }
}

/// The number a redirect contact sends the caller to: the user part of a sip/sips URI or the
/// number of a tel URI.
fn contact_number(contact: &str) -> Option<&str> {
    let rest = contact.strip_prefix("sip:").or_else(|| contact.strip_prefix("sips:"));
    match rest {
        Some(r) => r.split_once('@').map(|(u, _)| u.split(';').next().unwrap_or(u)),
        None => contact.strip_prefix("tel:").map(|n| n.split(';').next().unwrap_or(n)),
    }
}

/// A redirect whose contact number is routed (by its called number alone) back to a rule
/// that redirects again, round to the start: callers would bounce for ever. Conservative in the
/// other direction: other conditions (time, caller) are ignored, since a loop at some hours
/// is still a loop.
fn redirect_loops(set: &[Parsed], diags: &mut Vec<Diagnostic>) {
    let ids = all_rules(set);
    // edges[i] = (offset of the redirect contact, index of a rule that number reaches)
    let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); ids.len()];
    for (i, &id) in ids.iter().enumerate() {
        for (at, contact) in &set[id.file].metas[id.rule].redirects {
            if contact.contains("${") {
                continue;
            }
            let Some(num) = contact_number(contact) else { continue };
            for (k, &other) in ids.iter().enumerate() {
                let r = rule(set, other);
                if r.cond.called.as_ref().is_some_and(|c| c.captures(num).is_some()) || r.cond.called.is_none() {
                    if r.steps.iter().any(|s| matches!(s, StepSpec::Redirect { .. })) {
                        edges[i].push((*at, k));
                    }
                    if !r.cond.has_non_called() {
                        break; // this rule always takes the call: nothing after it is reached
                    }
                }
            }
        }
    }
    for start in 0..ids.len() {
        // Depth-first search for a path back to `start` through rules with larger indices
        // only, so each cycle is reported once, at its first rule.
        let mut stack: Vec<(usize, Vec<usize>)> = vec![(start, vec![start])];
        let mut seen = vec![false; ids.len()];
        let mut found: Option<(usize, Vec<usize>)> = None;
        'search: while let Some((node, path)) = stack.pop() {
            for &(at, next) in &edges[node] {
                if next == start {
                    let first_at = if node == start { at } else { edges[start].iter().find(|e| e.1 == path[1]).map_or(at, |e| e.0) };
                    found = Some((first_at, path.clone()));
                    break 'search;
                }
                if next > start && !seen[next] {
                    seen[next] = true;
                    let mut p = path.clone();
                    p.push(next);
                    stack.push((next, p));
                }
            }
        }
        if let Some((at, path)) = found {
            let id = ids[start];
            let chain: Vec<String> = path.iter().map(|&i| where_(set, ids[i])).collect();
            let msg = if path.len() == 1 {
                format!("redirect loop: the contact is routed back to this same rule {}", chain[0])
            } else {
                format!("redirect loop: {} → back to the first", chain.join(" → "))
            };
            Sink { src: &set[id.file].src, out: diags }.at(Severity::Error, at, msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_numbers() {
        assert_eq!(contact_number("sip:803001@urp.example.it"), Some("803001"));
        assert_eq!(contact_number("sips:0612;user=phone@gw"), Some("0612"));
        assert_eq!(contact_number("tel:+39061234;phone-context=x"), Some("+39061234"));
        assert_eq!(contact_number("sip:gw.example.it"), None);
    }
}
