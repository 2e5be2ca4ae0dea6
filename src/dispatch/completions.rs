//! Outcome notifications for callers that wait for an event (async_processing=false).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::store::EventState;

/// Final state of an applied event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub state: EventState,
    pub reason: Option<String>,
}

/// Register before submitting, then await the receiver.
#[derive(Clone, Default)]
pub struct Completions {
    waiters: Arc<Mutex<HashMap<i64, Vec<oneshot::Sender<Outcome>>>>>,
}

impl Completions {
    pub fn register(&self, id: i64) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        super::lock(&self.waiters).entry(id).or_default().push(tx);
        rx
    }

    pub(crate) fn complete(&self, id: i64, outcome: &Outcome) {
        let senders = super::lock(&self.waiters).remove(&id).unwrap_or_default();
        for tx in senders {
            // The waiter may have given up (timeout); nothing to do then.
            let _ = tx.send(outcome.clone());
        }
    }
}
