//! `urpd user add|list|passwd|remove`: digest accounts in the node's state database. Works
//! with or without a running daemon; a running one is told at once over the admin socket.

use std::path::Path;
use std::process::ExitCode;

use super::{RoleArg, UserCommand};
use crate::daemon::admin::{self, AdminRequest};
use crate::daemon::config::Config;
use crate::state::{Role, StateDb, StateError};

fn state_exit(e: &StateError) -> ExitCode {
    eprintln!("urpd: {e}");
    ExitCode::from(match e {
        StateError::NoSuchUser(_) => 4,
        StateError::UserExists(_) => 5,
        StateError::InvalidUserName(_) => 2,
        _ => 1,
    })
}

/// Runs one user command.
pub async fn user(cfg: Config, state_dir: &Path, cmd: UserCommand) -> ExitCode {
    let db = match StateDb::open(state_dir).await {
        Ok(db) => db,
        Err(e) => return state_exit(&e),
    };
    let realm = cfg.node.realm.as_str();
    let result = match &cmd {
        UserCommand::Add { name, password, role } => {
            let role = match role {
                RoleArg::Agent => Role::Agent,
                RoleArg::Gateway => Role::Gateway,
                RoleArg::Admin => Role::Admin,
            };
            db.add_user(name, realm, password, role).await.map(|_| println!("user {name} added"))
        }
        UserCommand::Passwd { name, password } => {
            db.set_password(name, realm, password).await.map(|_| println!("password of {name} changed"))
        }
        UserCommand::Remove { name } => db.remove_user(name).await.map(|_| println!("user {name} removed")),
        UserCommand::List { json } => match db.list_users().await {
            Ok(list) => {
                if *json {
                    println!("{}", serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".into()));
                } else {
                    println!("{:<24} {:<8} {:<16}", "NAME", "ROLE", "REALM");
                    for u in &list {
                        println!("{:<24} {:<8} {:<16}", u.name, u.role, u.realm);
                    }
                }
                Ok(())
            }
            Err(e) => Err(e),
        },
    };
    let _ = db.close().await;
    if let Err(e) = result {
        return state_exit(&e);
    }
    if !matches!(cmd, UserCommand::List { .. }) {
        // A running daemon picks the change up now rather than at its next poll.
        match admin::request(state_dir, &AdminRequest::ReloadUsers).await {
            Ok(_) => {}
            Err(e) => eprintln!("urpd: warning: could not notify the running daemon: {e}"),
        }
    }
    ExitCode::SUCCESS
}
