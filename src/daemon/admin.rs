//! The local admin socket (`<state_dir>/admin.sock`, mode 0600): how CLI commands reach a
//! running daemon. One JSON object per line each way. Never a TCP port: only local users with
//! file access to the state directory can talk to it.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

/// A request on the admin socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum AdminRequest {
    /// Re-read users from the state database now.
    ReloadUsers,
    /// Node status.
    Status,
    /// Current registrations, optionally of one AOR.
    Registrations {
        /// Only this AOR.
        aor: Option<String>,
    },
}

/// A command for the core, with where to send the answer.
pub struct AdminCommand {
    /// What was asked.
    pub request: AdminRequest,
    /// Where the JSON answer goes.
    pub reply: oneshot::Sender<serde_json::Value>,
}

/// The socket path inside a state directory.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("admin.sock")
}

/// Binds the admin socket (replacing a stale one) and serves it until the process ends.
pub fn serve(state_dir: &Path, commands: mpsc::Sender<AdminCommand>) -> std::io::Result<()> {
    let path = socket_path(state_dir);
    if path.exists() {
        // A live daemon on the same state dir would answer; a dead one left its socket behind.
        if std::os::unix::net::UnixStream::connect(&path).is_ok() {
            return Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, format!("another urpd is running with state directory {}", state_dir.display())));
        }
        let _ = std::fs::remove_file(&path);
    }
    let listener = UnixListener::bind(&path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(handle(stream, commands.clone()));
                }
                Err(e) => {
                    warn!(error = %e, "admin socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(())
}

async fn handle(stream: UnixStream, commands: mpsc::Sender<AdminCommand>) {
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let answer = match serde_json::from_str::<AdminRequest>(&line) {
            Ok(request) => {
                let (tx, rx) = oneshot::channel();
                if commands.send(AdminCommand { request, reply: tx }).await.is_err() {
                    break;
                }
                rx.await.unwrap_or_else(|_| serde_json::json!({"ok": false, "error": "daemon is stopping"}))
            }
            Err(e) => serde_json::json!({"ok": false, "error": format!("bad request: {e}")}),
        };
        let mut text = answer.to_string();
        text.push('\n');
        if wr.write_all(text.as_bytes()).await.is_err() {
            break;
        }
    }
    debug!("admin client gone");
}

/// Sends one request to a running daemon; `Ok(None)` when no daemon listens there.
pub async fn request(state_dir: &Path, req: &AdminRequest) -> std::io::Result<Option<serde_json::Value>> {
    let path = socket_path(state_dir);
    let stream = match UnixStream::connect(&path).await {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => return Ok(None),
        Err(e) => return Err(e),
    };
    let (rd, mut wr) = stream.into_split();
    let mut text = serde_json::to_string(req).map_err(std::io::Error::other)?;
    text.push('\n');
    wr.write_all(text.as_bytes()).await?;
    let mut lines = BufReader::new(rd).lines();
    let line = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "daemon did not answer"))??;
    match line {
        Some(l) => serde_json::from_str(&l).map(Some).map_err(std::io::Error::other),
        None => Ok(None),
    }
}
