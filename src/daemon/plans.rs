//! Loading the dial-plan set for the running daemon: at start, on SIGHUP and on
//! `urpd dialplan reload`. A set with errors never replaces the one in service.
//!
//! One policy differs from `urpd dialplan check`: a rule naming a user who does not exist yet
//! does not stop the daemon (users are added at run time with `urpd user add`; until then
//! ringing them finds nobody, which the plan's failover handles). Those diagnostics are logged
//! as warnings; every other error refuses the set.

use std::path::Path;
use std::sync::Arc;

use super::users::UserCache;
use crate::proxy::Credentials;
use crate::routing::{AnyUser, Diagnostic, DialPlanSet, Directory, Severity};

/// A loaded set and what is worth telling about it.
pub struct Loaded {
    /// The set, ready to swap in.
    pub set: Arc<DialPlanSet>,
    /// Warnings (including users not found).
    pub warnings: Vec<String>,
    /// Number of plan files.
    pub files: usize,
}

struct Users<'a>(&'a UserCache);

impl Directory for Users<'_> {
    fn user_exists(&self, name: &str) -> bool {
        self.0.exists(name)
    }
}

fn is_unknown_user(d: &Diagnostic) -> bool {
    d.message.starts_with("unknown user")
}

/// Loads `dir`; `must_exist` when the directory was named in the configuration.
pub fn load(dir: &Path, must_exist: bool, users: &UserCache) -> Result<Loaded, Vec<String>> {
    if !dir.is_dir() {
        if must_exist {
            return Err(vec![format!("{}: dial-plan directory not found", dir.display())]);
        }
        return Ok(Loaded { set: Arc::new(DialPlanSet::empty()), warnings: Vec::new(), files: 0 });
    }
    match DialPlanSet::load_dir(dir, &Users(users)) {
        Ok((set, warnings)) => {
            let files = set.files().len();
            Ok(Loaded { set: Arc::new(set), warnings: warnings.iter().map(|d| d.to_string()).collect(), files })
        }
        Err(diags) => {
            let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.severity == Severity::Error).collect();
            if !errors.is_empty() && errors.iter().all(|d| is_unknown_user(d)) {
                let (set, mut warnings) =
                    DialPlanSet::load_dir(dir, &AnyUser).map_err(|d| d.iter().map(|d| d.to_string()).collect::<Vec<_>>())?;
                warnings.extend(diags.into_iter().map(|mut d| {
                    d.severity = Severity::Warning;
                    d
                }));
                let files = set.files().len();
                return Ok(Loaded { set: Arc::new(set), warnings: warnings.iter().map(|d| d.to_string()).collect(), files });
            }
            Err(diags.iter().map(|d| d.to_string()).collect())
        }
    }
}
