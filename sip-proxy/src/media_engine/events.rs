//! Worker events → call-core [`MediaEvent`]s.
//!
//! ```text
//!  backend thread ─WorkerEvent─► pump thread (one per worker) ─translate─► EventSink ─► MediaEvents
//!  DtlsPort::run (tokio task per call) ─DtlsEnd::Failed─────────────────────► EventSink
//! ```
//!
//! The sink is a bounded tokio channel written with `try_send`: a full channel drops the
//! event and counts it ([`MediaEvents::dropped`]), so neither a worker's pump nor a DTLS
//! task ever waits on the call core.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::thread::JoinHandle;

use media_plane::datapath::{
    BackendStats, DatapathError, LegSide, RunningWorker, SessionEvent, WorkerEvent,
};
use media_plane::ice::IceEvent;
use tokio::sync::mpsc;

use super::metrics::{WorkerExporter, FLUSH_EVERY};
use crate::media::{MediaEvent, MediaSessionId};

/// The receiving end of the engine's events; hand each to
/// `CallCore::handle_media_event`.
#[derive(Debug)]
pub struct MediaEvents {
    rx: mpsc::Receiver<MediaEvent>,
    dropped: Arc<AtomicU64>,
}

impl MediaEvents {
    /// The next event; `None` once the engine and all its workers are gone.
    /// Cancel-safe (tokio `mpsc::Receiver::recv`).
    pub async fn recv(&mut self) -> Option<MediaEvent> {
        self.rx.recv().await
    }

    /// The next event if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Option<MediaEvent> {
        self.rx.try_recv().ok()
    }

    /// Events dropped because this channel was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The sending side shared by the pumps and the DTLS tasks.
#[derive(Debug, Clone)]
pub(super) struct EventSink {
    tx: mpsc::Sender<MediaEvent>,
    dropped: Arc<AtomicU64>,
}

impl EventSink {
    pub(super) fn channel(capacity: usize) -> (Self, MediaEvents) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let sink = Self {
            tx,
            dropped: Arc::clone(&dropped),
        };
        (sink, MediaEvents { rx, dropped })
    }

    /// Queues `event` without waiting; a full channel drops and counts it.
    pub(super) fn emit(&self, event: MediaEvent) {
        match self.tx.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(e)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(event = ?e, "media event channel full: event dropped");
            }
            // The call core stopped listening: nothing left to tell.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    pub(super) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// What the call core hears of a worker event, if anything.
///
/// - ICE `Connected` → [`MediaEvent::IceConnected`]; `ConsentLost` →
///   [`MediaEvent::ConsentLost`]; nominations and restarts are logged only.
/// - `WebKeysInstalled` → [`MediaEvent::DtlsConnected`] (keys are in the data path).
/// - Silence on the web leg → [`MediaEvent::MediaTimeout`]: a browser sends RTP for a
///   muted track too, so its silence means it is gone. Silence on the IMS leg is normal
///   on hold (`a=inactive`, or a far end without comfort noise) and is only logged.
/// - `AllocateFailed` (the IMS-leg socket could not be bound) → [`MediaEvent::DtlsFailed`]
///   with the bind error as the reason: the call has no media and ends as failed; the
///   call core has no event closer to it.
pub(super) fn translate(event: WorkerEvent) -> Option<MediaEvent> {
    let id = |call: u64| MediaSessionId(call);
    match event {
        WorkerEvent::Ice { call, event } => match event {
            IceEvent::Connected { .. } => Some(MediaEvent::IceConnected(id(call))),
            IceEvent::ConsentLost { .. } => Some(MediaEvent::ConsentLost(id(call))),
            other => {
                tracing::debug!(call, event = ?other, "ICE");
                None
            }
        },
        WorkerEvent::WebKeysInstalled { call, .. } => Some(MediaEvent::DtlsConnected(id(call))),
        WorkerEvent::Session {
            call,
            event: SessionEvent::MediaInactive { leg: LegSide::Web },
        } => Some(MediaEvent::MediaTimeout(id(call))),
        WorkerEvent::AllocateFailed { call, error } => Some(MediaEvent::DtlsFailed {
            id: id(call),
            reason: format!("IMS media socket: {error}"),
        }),
        other => {
            tracing::debug!(event = ?other, "media worker");
            None
        }
    }
}

/// Starts the thread that pumps `running`'s events into `sink` and its counters into
/// the Prometheus metrics (`exporter`, at least every [`FLUSH_EVERY`]); it ends when
/// the worker thread ends and returns the backend's counters.
pub(super) fn pump(
    index: usize,
    running: RunningWorker,
    sink: EventSink,
    mut exporter: WorkerExporter,
) -> std::io::Result<JoinHandle<Result<BackendStats, DatapathError>>> {
    std::thread::Builder::new()
        .name(format!("media-events-{index}"))
        .spawn(move || {
            loop {
                match running.events().recv_timeout(FLUSH_EVERY) {
                    Ok(e) => {
                        exporter.event(&e);
                        if let Some(m) = translate(e) {
                            sink.emit(m);
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    // The backend thread ended and dropped its sender.
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                exporter.maybe_flush();
            }
            let end = running.join();
            exporter.finish();
            end
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    #[test]
    fn worker_events_map_to_media_events() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let ice = |event| WorkerEvent::Ice { call: 3, event };
        let table = [
            (
                ice(IceEvent::Connected {
                    local: a,
                    remote: a,
                }),
                Some(MediaEvent::IceConnected(MediaSessionId(3))),
            ),
            (
                ice(IceEvent::ConsentLost {
                    local: a,
                    remote: a,
                }),
                Some(MediaEvent::ConsentLost(MediaSessionId(3))),
            ),
            (
                WorkerEvent::WebKeysInstalled {
                    call: 3,
                    suite: media_plane::srtp::SrtpSuite::AeadAes128Gcm,
                },
                Some(MediaEvent::DtlsConnected(MediaSessionId(3))),
            ),
            (
                WorkerEvent::Session {
                    call: 3,
                    event: SessionEvent::MediaInactive { leg: LegSide::Web },
                },
                Some(MediaEvent::MediaTimeout(MediaSessionId(3))),
            ),
            (
                WorkerEvent::Session {
                    call: 3,
                    event: SessionEvent::MediaInactive { leg: LegSide::Ims },
                },
                None,
            ),
            (WorkerEvent::Ready { call: 3, port: 4 }, None),
        ];
        for (worker, media) in table {
            assert_eq!(translate(worker), media, "{worker:?}");
        }
        let failed = translate(WorkerEvent::AllocateFailed {
            call: 3,
            error: DatapathError::PortInUse(4),
        });
        assert!(matches!(
            failed,
            Some(MediaEvent::DtlsFailed {
                id: MediaSessionId(3),
                ..
            })
        ));
    }

    #[test]
    fn a_full_channel_drops_and_counts() {
        let (sink, mut events) = EventSink::channel(1);
        sink.emit(MediaEvent::IceConnected(MediaSessionId(1)));
        sink.emit(MediaEvent::IceConnected(MediaSessionId(2)));
        assert_eq!(events.dropped(), 1);
        assert_eq!(
            events.try_recv(),
            Some(MediaEvent::IceConnected(MediaSessionId(1)))
        );
        assert_eq!(events.try_recv(), None);
    }
}
