//! Readiness and drain: the node's life from "starting" to "nothing left, exit 0".
//!
//! ```text
//!  starting ──all subsystems ready──► ready ──drain (POST /admin/drain, SIGTERM)──► draining
//!                                                                                    │
//!      exit 0 ◄── nothing active (after the linger) ◄────────────────────────────────┤
//!      exit 0 ◄── deadline: subsystems told to end what is left, short grace ◄───────┘
//! ```
//!
//! Subsystems hold an [`ActiveGuard`] per call (or other work that must finish); the drain
//! waits for the guards to drop. While draining, [`Lifecycle::draining`] is true: the API
//! answers new calls and registrations with 503 + Retry-After, SIP with 503 + Retry-After.
//! At the deadline, [`Lifecycle::shutdown_rx`] flips and subsystems end what is left cleanly.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

/// Shared by the admin listener, the signal handler and every subsystem.
#[derive(Debug)]
pub struct Lifecycle {
    subsystems: Mutex<BTreeMap<&'static str, bool>>,
    draining: watch::Sender<bool>,
    shutdown: watch::Sender<bool>,
    active: watch::Sender<usize>,
}

/// Held while a unit of work (a call) that a drain must wait for is in progress.
#[derive(Debug)]
pub struct ActiveGuard {
    active: watch::Sender<usize>,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.active.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainOutcome {
    /// Everything finished before the deadline.
    Finished,
    /// The deadline passed; subsystems were told to end what was left, and they did.
    EndedAtDeadline,
    /// Work was still active after the deadline and the grace that followed it.
    Abandoned {
        /// Units still active.
        active: usize,
    },
}

/// Timings of a drain, from the config.
#[derive(Debug, Clone, Copy)]
pub struct DrainTimes {
    /// How long calls may continue.
    pub deadline: Duration,
    /// The least time readiness stays off before the process exits.
    pub linger: Duration,
    /// How long subsystems get to end calls once the deadline passed.
    pub end_grace: Duration,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

impl Lifecycle {
    /// A node with no subsystems, not draining.
    pub fn new() -> Self {
        Self {
            subsystems: Mutex::new(BTreeMap::new()),
            draining: watch::Sender::new(false),
            shutdown: watch::Sender::new(false),
            active: watch::Sender::new(0),
        }
    }

    /// Declares a subsystem that must report ready before the node is.
    pub fn register(&self, name: &'static str) {
        self.lock().entry(name).or_insert(false);
    }

    /// Marks a registered subsystem ready (or not ready again).
    pub fn set_ready(&self, name: &'static str, ready: bool) {
        self.lock().insert(name, ready);
    }

    /// `Ok` when every subsystem is ready and the node is not draining; otherwise the
    /// reasons, for the `/readyz` body.
    pub fn readiness(&self) -> Result<(), Vec<String>> {
        let mut reasons: Vec<String> = self
            .lock()
            .iter()
            .filter(|(_, ready)| !**ready)
            .map(|(name, _)| format!("{name}: not started"))
            .collect();
        if self.is_draining() {
            reasons.push("node: draining".into());
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(reasons)
        }
    }

    /// The subsystems and whether each is ready.
    pub fn subsystems(&self) -> Vec<(&'static str, bool)> {
        self.lock().iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Starts draining. Returns false when a drain had already started.
    pub fn start_drain(&self) -> bool {
        self.draining
            .send_if_modified(|d| !std::mem::replace(d, true))
    }

    /// Whether a drain has started.
    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// Watches the draining flag (subsystems refuse new work while it is true).
    pub fn draining_rx(&self) -> watch::Receiver<bool> {
        self.draining.subscribe()
    }

    /// Watches the shutdown flag: true once the drain deadline has passed and what is left
    /// must be ended now.
    pub fn shutdown_rx(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Counts one unit of work until the guard drops.
    pub fn track(&self) -> ActiveGuard {
        self.active.send_modify(|n| *n += 1);
        ActiveGuard {
            active: self.active.clone(),
        }
    }

    /// Units of work in progress.
    pub fn active(&self) -> usize {
        *self.active.borrow()
    }

    /// Runs a drain to its end. Call after [`start_drain`](Self::start_drain).
    ///
    /// Cancel safety: dropping the future leaves the node draining; nothing else changes.
    pub async fn drain(&self, times: DrainTimes) -> DrainOutcome {
        let mut active = self.active.subscribe();
        let finished = async {
            tokio::time::sleep(times.linger).await;
            // The sender lives in `self`, so `wait_for` cannot fail while we borrow it.
            let _ = active.wait_for(|n| *n == 0).await;
        };
        if tokio::time::timeout(times.deadline.max(times.linger), finished)
            .await
            .is_ok()
        {
            return DrainOutcome::Finished;
        }
        self.shutdown.send_replace(true);
        let mut active = self.active.subscribe();
        let ended = tokio::time::timeout(times.end_grace, active.wait_for(|n| *n == 0)).await;
        match ended {
            Ok(_) => DrainOutcome::EndedAtDeadline,
            Err(_) => DrainOutcome::Abandoned {
                active: self.active(),
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, bool>> {
        // The map holds plain booleans; a panic elsewhere cannot leave it inconsistent.
        self.subsystems
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::time::Instant;

    const TIMES: DrainTimes = DrainTimes {
        deadline: Duration::from_secs(30),
        linger: Duration::from_secs(2),
        end_grace: Duration::from_secs(5),
    };

    #[test]
    fn ready_only_when_every_subsystem_is_and_not_draining() {
        let l = Lifecycle::new();
        l.register("api");
        l.register("admin");
        assert_eq!(
            l.readiness(),
            Err(vec!["admin: not started".into(), "api: not started".into()])
        );
        l.set_ready("api", true);
        l.set_ready("admin", true);
        assert_eq!(l.readiness(), Ok(()));
        assert!(l.start_drain());
        assert!(!l.start_drain(), "a second drain is not a new drain");
        assert_eq!(l.readiness(), Err(vec!["node: draining".into()]));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_node_drains_after_the_linger() {
        let l = Lifecycle::new();
        l.start_drain();
        let t0 = Instant::now();
        assert_eq!(l.drain(TIMES).await, DrainOutcome::Finished);
        assert_eq!(t0.elapsed(), TIMES.linger);
        assert!(!*l.shutdown_rx().borrow(), "nothing had to be cut short");
    }

    #[tokio::test(start_paused = true)]
    async fn drain_waits_for_calls_that_end_before_the_deadline() {
        let l = Arc::new(Lifecycle::new());
        let call = l.track();
        l.start_drain();
        let t0 = Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(12)).await;
            drop(call);
        });
        assert_eq!(l.drain(TIMES).await, DrainOutcome::Finished);
        assert_eq!(t0.elapsed(), Duration::from_secs(12));
    }

    #[tokio::test(start_paused = true)]
    async fn calls_left_at_the_deadline_are_told_to_end() {
        let l = Arc::new(Lifecycle::new());
        let call = l.track();
        let mut shutdown = l.shutdown_rx();
        // The subsystem owning the call ends it when told to.
        tokio::spawn(async move {
            let _ = shutdown.wait_for(|s| *s).await;
            drop(call);
        });
        l.start_drain();
        let t0 = Instant::now();
        assert_eq!(l.drain(TIMES).await, DrainOutcome::EndedAtDeadline);
        assert_eq!(t0.elapsed(), TIMES.deadline);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_never_ends_is_reported_after_the_grace() {
        let l = Lifecycle::new();
        let _stuck = l.track();
        l.start_drain();
        let t0 = Instant::now();
        assert_eq!(l.drain(TIMES).await, DrainOutcome::Abandoned { active: 1 });
        assert_eq!(t0.elapsed(), TIMES.deadline + TIMES.end_grace);
    }
}
