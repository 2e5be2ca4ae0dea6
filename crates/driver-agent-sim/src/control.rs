//! Shared state of a running simulator and the test-facing handle to it.
//!
//! Tests drive the simulator from outside the connection tasks: they inspect
//! what the client sent, seed `get.sock` answers, and inject faults. All of
//! that lives behind one mutex that is never held across an `.await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, watch};

/// Status keys the agent understands, in the order Octavia lists them.
pub const COLLECTIONS: [&str; 7] = [
    "loadbalancers",
    "listeners",
    "pools",
    "members",
    "healthmonitors",
    "l7policies",
    "l7rules",
];

/// Which of the three agent sockets a setting or a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Socket {
    Status,
    Stats,
    Get,
    /// Only meaningful for [`AgentControl::set_mode`]: applies to every socket.
    All,
}

impl Socket {
    /// Lower-case name, as used in the binary's output lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Socket::Status => "status",
            Socket::Stats => "stats",
            Socket::Get => "get",
            Socket::All => "all",
        }
    }
}

/// How a socket answers requests; lets tests provoke every client error path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// Behave like a healthy octavia-driver-agent.
    #[default]
    Normal,
    /// Reply `status_code` 500 with this `fault_string`; the message is NOT
    /// recorded (the agent refused it). On `get.sock` the same failure dict
    /// is returned instead of a provider dict.
    Fail(String),
    /// Read and record the request, then never answer (a hung agent). The
    /// connection is held open until the client gives up or the agent stops.
    Stall,
    /// Record the request, then answer with a frame whose length prefix is
    /// not a number (a broken or incompatible agent).
    Garbage,
}

/// One accepted message, as published to [`AgentControl::subscribe`].
#[derive(Debug, Clone)]
pub struct Received {
    pub socket: Socket,
    pub message: Value,
}

#[derive(Default)]
struct State {
    status: Vec<Value>,
    stats: Vec<Value>,
    gets: Vec<Value>,
    fixtures: HashMap<(String, String), Value>,
    modes: HashMap<Socket, Mode>,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    /// Bumped on every recorded message so `wait_until` can wake promptly.
    generation: watch::Sender<u64>,
    feed: broadcast::Sender<Received>,
}

/// Cloneable handle for inspecting and steering a running simulator.
#[derive(Clone)]
pub struct AgentControl {
    pub(crate) shared: Arc<Shared>,
}

/// Error loading a fixtures document.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("fixtures must be an object of {{collection: {{id: object}}}}")]
    NotAnObject,
    #[error("unknown fixture collection {0:?}")]
    UnknownCollection(String),
}

impl AgentControl {
    pub(crate) fn new() -> Self {
        let (generation, _) = watch::channel(0);
        let (feed, _) = broadcast::channel(1024);
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                generation,
                feed,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not take the simulator down with it.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every accepted status request, in arrival order.
    pub fn status_messages(&self) -> Vec<Value> {
        self.lock().status.clone()
    }

    /// Every accepted statistics request, in arrival order.
    pub fn stats_messages(&self) -> Vec<Value> {
        self.lock().stats.clone()
    }

    /// Every accepted get request, in arrival order.
    pub fn get_requests(&self) -> Vec<Value> {
        self.lock().gets.clone()
    }

    /// Forgets recorded messages (fixtures and modes are kept).
    pub fn clear(&self) {
        let mut st = self.lock();
        st.status.clear();
        st.stats.clear();
        st.gets.clear();
    }

    /// Folds all recorded status messages: the latest provisioning and
    /// operating status seen for `id` in `collection` (e.g. `"members"`).
    /// A message that omits one of the two fields leaves it unchanged, as in
    /// Octavia's database.
    pub fn latest_status(&self, collection: &str, id: &str) -> (Option<String>, Option<String>) {
        let st = self.lock();
        let mut prov = None;
        let mut oper = None;
        let entries = st
            .status
            .iter()
            .filter_map(|m| m.get(collection).and_then(Value::as_array))
            .flatten()
            .filter(|e| e.get("id").and_then(Value::as_str) == Some(id));
        for entry in entries {
            if let Some(p) = entry.get("provisioning_status").and_then(Value::as_str) {
                prov = Some(p.to_owned());
            }
            if let Some(o) = entry.get("operating_status").and_then(Value::as_str) {
                oper = Some(o.to_owned());
            }
        }
        (prov, oper)
    }

    /// Sets the provider dict `get.sock` returns for (`object`, `id`).
    pub fn set_fixture(&self, object: &str, id: &str, value: Value) {
        self.lock()
            .fixtures
            .insert((object.to_owned(), id.to_owned()), value);
    }

    /// Makes `get.sock` answer `{}` (not found) for (`object`, `id`) again.
    pub fn remove_fixture(&self, object: &str, id: &str) {
        self.lock()
            .fixtures
            .remove(&(object.to_owned(), id.to_owned()));
    }

    /// Loads `{"loadbalancers": {"<id>": {...}}, "members": {...}, ...}`;
    /// returns how many fixtures were set.
    pub fn load_fixtures(&self, doc: &Value) -> Result<usize, FixtureError> {
        let map = doc.as_object().ok_or(FixtureError::NotAnObject)?;
        let mut count = 0;
        for (collection, objects) in map {
            if !COLLECTIONS.contains(&collection.as_str()) {
                return Err(FixtureError::UnknownCollection(collection.clone()));
            }
            let objects = objects.as_object().ok_or(FixtureError::NotAnObject)?;
            for (id, value) in objects {
                self.set_fixture(collection, id, value.clone());
                count += 1;
            }
        }
        Ok(count)
    }

    /// Changes how `socket` (or every socket with [`Socket::All`]) answers.
    pub fn set_mode(&self, socket: Socket, mode: Mode) {
        let mut st = self.lock();
        match socket {
            Socket::All => {
                for s in [Socket::Status, Socket::Stats, Socket::Get] {
                    st.modes.insert(s, mode.clone());
                }
            }
            one => {
                st.modes.insert(one, mode);
            }
        }
    }

    pub(crate) fn mode(&self, socket: Socket) -> Mode {
        self.lock().modes.get(&socket).cloned().unwrap_or_default()
    }

    pub(crate) fn fixture(&self, object: &str, id: &str) -> Option<Value> {
        self.lock()
            .fixtures
            .get(&(object.to_owned(), id.to_owned()))
            .cloned()
    }

    /// Live feed of accepted messages (used by the binary to print them).
    pub fn subscribe(&self) -> broadcast::Receiver<Received> {
        self.shared.feed.subscribe()
    }

    pub(crate) fn record(&self, socket: Socket, message: Value) {
        {
            let mut st = self.lock();
            let list = match socket {
                Socket::Status => &mut st.status,
                Socket::Stats => &mut st.stats,
                Socket::Get | Socket::All => &mut st.gets,
            };
            list.push(message.clone());
        }
        // No subscribers is normal in tests; the error only means that.
        let _ = self.shared.feed.send(Received { socket, message });
        self.shared
            .generation
            .send_modify(|g| *g = g.wrapping_add(1));
    }

    /// Waits until `f` holds, re-checking on every recorded message and at
    /// least every 20 ms (for conditions that depend on other state).
    /// Returns `false` if `timeout` passes first.
    pub async fn wait_until<F: Fn(&AgentControl) -> bool>(&self, f: F, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.shared.generation.subscribe();
        loop {
            changes.mark_unchanged();
            if f(self) {
                return true;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            let tick = deadline.min(now + Duration::from_millis(20));
            tokio::select! {
                _ = changes.changed() => {}
                _ = tokio::time::sleep_until(tick) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn latest_status_folds_partial_entries() {
        let c = AgentControl::new();
        c.record(
            Socket::Status,
            json!({"members": [{"id": "m1", "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}]}),
        );
        c.record(
            Socket::Status,
            json!({"members": [{"id": "m2", "operating_status": "ERROR"},
                               {"id": "m1", "operating_status": "OFFLINE"}]}),
        );
        assert_eq!(
            c.latest_status("members", "m1"),
            (Some("ACTIVE".into()), Some("OFFLINE".into()))
        );
        assert_eq!(
            c.latest_status("members", "m2"),
            (None, Some("ERROR".into()))
        );
        assert_eq!(c.latest_status("pools", "m1"), (None, None));
        c.clear();
        assert_eq!(c.latest_status("members", "m1"), (None, None));
    }

    #[test]
    fn fixtures_load_and_validate() {
        let c = AgentControl::new();
        let n = c
            .load_fixtures(&json!({"pools": {"p1": {"pool_id": "p1"}}, "members": {}}))
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(c.fixture("pools", "p1"), Some(json!({"pool_id": "p1"})));
        assert!(matches!(
            c.load_fixtures(&json!({"amphorae": {}})),
            Err(FixtureError::UnknownCollection(_))
        ));
        assert!(matches!(
            c.load_fixtures(&json!([])),
            Err(FixtureError::NotAnObject)
        ));
        c.remove_fixture("pools", "p1");
        assert_eq!(c.fixture("pools", "p1"), None);
    }

    #[test]
    fn set_mode_all_covers_every_socket() {
        let c = AgentControl::new();
        c.set_mode(Socket::All, Mode::Stall);
        c.set_mode(Socket::Get, Mode::Normal);
        assert_eq!(c.mode(Socket::Status), Mode::Stall);
        assert_eq!(c.mode(Socket::Stats), Mode::Stall);
        assert_eq!(c.mode(Socket::Get), Mode::Normal);
    }

    #[tokio::test]
    async fn wait_until_wakes_on_record_and_times_out() {
        let c = AgentControl::new();
        let c2 = c.clone();
        let waiter = tokio::spawn(async move {
            c2.wait_until(|c| c.stats_messages().len() == 1, Duration::from_secs(5))
                .await
        });
        tokio::task::yield_now().await;
        c.record(Socket::Stats, json!({"listeners": []}));
        assert!(waiter.await.unwrap());
        assert!(
            !c.wait_until(|c| c.stats_messages().len() == 2, Duration::from_millis(50))
                .await
        );
    }
}
