//! Where the ingress hands an accepted event, and how a synchronous POST learns its
//! outcome.
//!
//! Single instance: the event goes straight to this process's dispatcher, and the
//! outcome comes back through [`super::Completions`]. Cluster: any instance accepts,
//! but only the leader applies, so the journal itself is the hand-off: the leader's
//! [`super::JournalTail`] submits events in id order, and a waiting POST reads the
//! event's state from the shared journal. Submitting directly there would let an
//! event overtake an earlier one of the same load balancer accepted elsewhere.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::store::{Store, StoreError};

use super::{Dispatcher, Job, Outcome};

/// The ingress's side of the dispatcher.
#[derive(Clone)]
pub enum Intake {
    /// This process applies what it accepts.
    Local(Dispatcher),
    /// The leader (maybe another process) picks events up from the journal; `poll`
    /// is how often a waiting POST reads the event's state; `local` holds this
    /// process's dispatcher while it leads (for the queue depth).
    Journal { poll: Duration, local: LocalLeader },
}

/// This process's dispatcher while it is the leader, else nothing.
#[derive(Clone, Default)]
pub struct LocalLeader(Arc<RwLock<Option<Dispatcher>>>);

impl LocalLeader {
    pub fn set(&self, d: Option<Dispatcher>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = d;
    }

    pub fn get(&self) -> Option<Dispatcher> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Intake {
    /// Hand over a journaled job (a no-op in a cluster: the leader's tail finds it).
    pub fn submit(&self, job: Job) {
        if let Intake::Local(d) = self {
            d.submit(job);
        }
    }

    /// Submit `job` and wait up to `timeout` for its outcome; `None` on timeout.
    pub async fn submit_and_wait(
        &self,
        store: &Store,
        job: Job,
        timeout: Duration,
    ) -> Result<Option<Outcome>, StoreError> {
        match self {
            Intake::Local(d) => {
                let waiter = d.completions().register(job.id);
                d.submit(job);
                Ok(tokio::time::timeout(timeout, waiter)
                    .await
                    .ok()
                    .and_then(Result::ok))
            }
            Intake::Journal { poll, .. } => {
                let deadline = tokio::time::Instant::now() + timeout;
                loop {
                    if let Some(r) = store.event(job.id).await? {
                        if r.state.is_final() {
                            return Ok(Some(Outcome {
                                state: r.state,
                                reason: r.reason,
                            }));
                        }
                    }
                    if tokio::time::Instant::now() + *poll > deadline {
                        return Ok(None);
                    }
                    tokio::time::sleep(*poll).await;
                }
            }
        }
    }

    /// Jobs queued or being applied in this process.
    pub fn queue_depth(&self) -> usize {
        match self {
            Intake::Local(d) => d.queue_depth(),
            Intake::Journal { local, .. } => local.get().map_or(0, |d| d.queue_depth()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{test_store, EventState, KeyHint};
    use crate::test_support::TestResult;

    /// In a cluster, a synchronous POST learns the outcome the leader (another
    /// process) journals, and gives up at its timeout while the event is unfinished.
    #[tokio::test]
    async fn a_journal_intake_waits_for_the_outcome_in_the_journal() -> TestResult {
        let (store, _dir) = test_store().await;
        let intake = Intake::Journal {
            poll: Duration::from_millis(5),
            local: LocalLeader::default(),
        };
        let a = store
            .accept_event(
                "loadbalancer_create",
                "{}",
                ("loadbalancer", "lb1"),
                &KeyHint::Loadbalancer("lb1".into()),
                None,
            )
            .await?;
        let job = Job {
            id: a.id,
            ordering_key: a.ordering_key.clone(),
            method: "loadbalancer_create".into(),
            args: "{}".into(),
        };
        let waited = intake
            .submit_and_wait(&store, job.clone(), Duration::from_millis(30))
            .await?;
        assert_eq!(waited, None, "unfinished: the POST answers 202");
        let leader = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            leader.finish_event(a.id, EventState::Done, None).await
        });
        let waited = intake
            .submit_and_wait(&store, job, Duration::from_secs(5))
            .await?;
        assert_eq!(waited.map(|o| o.state), Some(EventState::Done));
        assert_eq!(intake.queue_depth(), 0, "nothing queued in this process");
        Ok(())
    }
}
