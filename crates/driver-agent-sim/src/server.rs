//! Socket listeners and per-connection request handling.
//!
//! Mirrors octavia-driver-agent: one request per connection, a reply frame,
//! then close. Each accepted connection runs in its own task so a stalled
//! client (or a `Mode::Stall` socket) never blocks other requests.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::control::{AgentControl, Mode, Socket, COLLECTIONS};
use crate::validate::{self, Rejection};
use crate::wire;

/// Requests above this size are refused (the client would never send one).
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;
/// Same default as Octavia's `[driver_agent] *_request_timeout`.
pub const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// What `Mode::Garbage` sends: the length prefix is not a number.
pub const GARBAGE_REPLY: &[u8] = b"OK\n{\"status_code\": 200}";

/// A running simulator. Dropping it also stops it, but without waiting for
/// the listener tasks; prefer [`AgentHandle::stop`].
pub struct AgentHandle {
    dir: PathBuf,
    control: AgentControl,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// (path, device, inode) of each socket we bound, so cleanup never
    /// deletes a socket that a newer simulator bound at the same path.
    bound: Vec<(PathBuf, u64, u64)>,
}

fn socket_file(dir: &Path, socket: Socket) -> PathBuf {
    dir.join(format!("{}.sock", socket.as_str()))
}

/// Starts the simulator: binds `dir/status.sock`, `stats.sock` and
/// `get.sock` (creating `dir`, replacing stale socket files). Must be called
/// inside a tokio runtime.
pub async fn spawn(dir: &Path) -> io::Result<AgentHandle> {
    tokio::fs::create_dir_all(dir).await?;
    let (shutdown, _) = watch::channel(false);
    let mut handle = AgentHandle {
        dir: dir.to_path_buf(),
        control: AgentControl::new(),
        shutdown,
        tasks: Vec::new(),
        bound: Vec::new(),
    };
    // On any error below, dropping `handle` stops what was already started.
    for socket in [Socket::Status, Socket::Stats, Socket::Get] {
        let path = socket_file(dir, socket);
        remove_stale_socket(&path)?;
        let listener = UnixListener::bind(&path)?;
        let meta = std::fs::symlink_metadata(&path)?;
        handle.bound.push((path, meta.dev(), meta.ino()));
        handle.tasks.push(tokio::spawn(accept_loop(
            socket,
            listener,
            handle.control.clone(),
            handle.shutdown.subscribe(),
        )));
    }
    Ok(handle)
}

/// Removes a leftover socket file (a crashed agent leaves one behind, as the
/// real agent also assumes), but refuses to delete anything else.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

impl AgentHandle {
    pub fn status_path(&self) -> PathBuf {
        socket_file(&self.dir, Socket::Status)
    }

    pub fn stats_path(&self) -> PathBuf {
        socket_file(&self.dir, Socket::Stats)
    }

    pub fn get_path(&self) -> PathBuf {
        socket_file(&self.dir, Socket::Get)
    }

    pub fn control(&self) -> AgentControl {
        self.control.clone()
    }

    /// Agent down: closes the listeners, ends held connections and removes
    /// the socket files, so new connects fail like with a stopped agent.
    pub async fn stop(mut self) {
        self.shutdown.send_replace(true);
        for task in std::mem::take(&mut self.tasks) {
            if let Err(e) = task.await {
                warn!("driver-agent-sim listener task failed: {e}");
            }
        }
        self.remove_socket_files();
    }

    fn remove_socket_files(&mut self) {
        for (path, dev, ino) in self.bound.drain(..) {
            let ours = std::fs::symlink_metadata(&path)
                .map(|m| m.dev() == dev && m.ino() == ino)
                .unwrap_or(false);
            if ours {
                if let Err(e) = std::fs::remove_file(&path) {
                    warn!("cannot remove {}: {e}", path.display());
                }
            }
        }
    }
}

impl Drop for AgentHandle {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        self.remove_socket_files();
    }
}

/// Resolves once shutdown is requested (or the handle is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it right here.
    let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ());
}

async fn accept_loop(
    socket: Socket,
    listener: UnixListener,
    control: AgentControl,
    mut shutdown: watch::Receiver<bool>,
) {
    let for_connections = shutdown.clone();
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve(socket, stream, control.clone(), for_connections.clone()));
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    warn!(socket = socket.as_str(), "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
}

/// The 500 reply. octavia-lib reads `stats_object`, `stats_object_id` and
/// `stats_record` from stats.sock failures and `status_*` otherwise.
fn failure_reply(socket: Socket, r: Rejection) -> Value {
    let prefix = if socket == Socket::Stats {
        "stats"
    } else {
        "status"
    };
    let mut reply = serde_json::Map::new();
    reply.insert("status_code".into(), json!(500));
    reply.insert("fault_string".into(), json!(r.fault));
    reply.insert(format!("{prefix}_object"), json!(r.object));
    reply.insert(format!("{prefix}_object_id"), json!(r.object_id));
    reply.insert(format!("{prefix}_record"), json!(r.record));
    Value::Object(reply)
}

/// For `Mode::Fail`: name the first record, like the real agent does when
/// its database write fails.
fn injected_failure(socket: Socket, msg: &Value, fault: &str) -> Rejection {
    let first = COLLECTIONS.iter().find_map(|c| {
        msg.get(*c)
            .and_then(Value::as_array)
            .and_then(|entries| entries.first())
            .map(|e| (*c, e))
    });
    match (socket, first) {
        (Socket::Status | Socket::Stats, Some((object, record))) => Rejection {
            fault: fault.to_owned(),
            object: Some(object.to_owned()),
            object_id: record.get("id").and_then(Value::as_str).map(str::to_owned),
            record: Some(record.clone()),
        },
        _ => Rejection {
            fault: fault.to_owned(),
            object: None,
            object_id: None,
            record: None,
        },
    }
}

async fn reply(stream: &mut UnixStream, socket: Socket, value: &Value) {
    if let Err(e) = wire::write_reply(stream, value).await {
        debug!(
            socket = socket.as_str(),
            "client went away before the reply: {e}"
        );
    }
}

/// One request off `stream`, or `None` when it is malformed, does not arrive within
/// [`REQUEST_READ_TIMEOUT`] (both logged) or the agent stops first.
async fn read_request(
    socket: Socket,
    stream: &mut UnixStream,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Value> {
    let read = tokio::select! {
        r = tokio::time::timeout(
            REQUEST_READ_TIMEOUT,
            wire::read_request(stream, MAX_REQUEST_BYTES),
        ) => r,
        _ = stopped(shutdown) => return None,
    };
    match read {
        Ok(Ok(msg)) => Some(msg),
        Ok(Err(e)) => {
            warn!(socket = socket.as_str(), "dropping malformed request: {e}");
            None
        }
        Err(_) => {
            warn!(
                socket = socket.as_str(),
                "request not received within {REQUEST_READ_TIMEOUT:?}"
            );
            None
        }
    }
}

async fn serve(
    socket: Socket,
    mut stream: UnixStream,
    control: AgentControl,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(msg) = read_request(socket, &mut stream, &mut shutdown).await else {
        return;
    };
    let mode = control.mode(socket);
    if let Mode::Fail(fault) = &mode {
        let answer = failure_reply(socket, injected_failure(socket, &msg, fault));
        return reply(&mut stream, socket, &answer).await;
    }
    let answer = match socket {
        Socket::Status | Socket::Stats => {
            let checked = if socket == Socket::Status {
                validate::status(&msg)
            } else {
                validate::stats(&msg)
            };
            if let Err(rejection) = checked {
                warn!(
                    socket = socket.as_str(),
                    "refusing request: {}", rejection.fault
                );
                return reply(&mut stream, socket, &failure_reply(socket, rejection)).await;
            }
            control.record(socket, msg);
            json!({"status_code": 200})
        }
        Socket::Get | Socket::All => match validate::get(&msg) {
            Ok((object, id)) => {
                control.record(Socket::Get, msg);
                control.fixture(&object, &id).unwrap_or_else(|| json!({}))
            }
            Err(rejection) => {
                // The real agent has no error reply on get.sock; it drops the connection.
                warn!(socket = "get", "refusing request: {}", rejection.fault);
                return;
            }
        },
    };
    match mode {
        Mode::Normal | Mode::Fail(_) => reply(&mut stream, socket, &answer).await,
        Mode::Garbage => {
            if let Err(e) = wire::write_raw(&mut stream, GARBAGE_REPLY).await {
                debug!(socket = socket.as_str(), "client went away: {e}");
            }
        }
        Mode::Stall => stall(&mut stream, &mut shutdown).await,
    }
}

/// Hold the connection until the client hangs up or the agent stops.
async fn stall(stream: &mut UnixStream, shutdown: &mut watch::Receiver<bool>) {
    let mut sink = [0u8; 256];
    loop {
        tokio::select! {
            read = stream.read(&mut sink) => match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
            _ = stopped(shutdown) => break,
        }
    }
}
