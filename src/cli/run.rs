//! `urpd run`: start the daemon in the foreground.

use std::path::PathBuf;
use std::process::ExitCode;

use super::RunArgs;
use crate::daemon::config::{Config, Listen};

/// Runs the daemon with `--listen` overrides applied.
pub async fn run(mut cfg: Config, state_dir: PathBuf, args: RunArgs) -> ExitCode {
    if !args.listen.is_empty() {
        cfg.sip.listen = args.listen;
    }
    if let Some(d) = args.dialplans {
        cfg.dialplan.dir = Some(d);
    }
    if let Some(u) = args.crm_url {
        cfg.crm.url = Some(u);
    }
    if let Some(m) = args.metrics_listen {
        cfg.metrics.listen = Some(m);
        if let Err(e) = cfg.metrics.addr() {
            eprintln!("urpd: {e}");
            return ExitCode::from(3);
        }
    }
    crate::daemon::logging::init(&cfg.log.level, &cfg.log.format);
    let listens: Vec<Listen> = match cfg.listens() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("urpd: {e}");
            return ExitCode::from(3);
        }
    };
    match crate::daemon::run(cfg, state_dir, listens).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("urpd: {e}");
            tracing::error!(error = %e, "urpd failed");
            ExitCode::from(if matches!(e, crate::daemon::DaemonError::Config(_) | crate::daemon::DaemonError::Dialplan(_)) { 3 } else { 1 })
        }
    }
}
