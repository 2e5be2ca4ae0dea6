//! systemd integration: READY/STOPPING notifications and the watchdog. Each is a
//! no-op when the daemon was not started by systemd.

use std::time::Duration;

use tracing::warn;

use crate::shutdown::Shutdown;
use crate::store::Store;

/// Tell systemd (when started by it) about our state; a no-op otherwise.
pub fn notify(state: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(false, state) {
        warn!(error = %e, "cannot notify systemd");
    }
}

/// With `WatchdogSec=` set, ping systemd at half the interval, but only while the
/// database answers: a daemon that cannot journal is better restarted.
pub fn start_watchdog(store: Store, shutdown: &Shutdown) {
    let mut usec = 0u64;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let every = Duration::from_micros(usec / 2).max(Duration::from_millis(10));
    let stop = shutdown.clone();
    shutdown.spawn(async move {
        loop {
            tokio::select! {
                _ = stop.triggered() => return,
                _ = tokio::time::sleep(every) => {}
            }
            match store.ping().await {
                Ok(()) => notify(&[sd_notify::NotifyState::Watchdog]),
                Err(e) => {
                    warn!(error = %e, "database does not answer; withholding the watchdog ping")
                }
            }
        }
    });
}
