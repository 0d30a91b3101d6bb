//! CloudEvents 1.0 (JSON event format) for the web side, and the hub that hands them to
//! the notification channels of the devices they concern.
//!
//! ```text
//!  call link ── session-invitation / session-status / registration-ends ──► EventHub
//!  EventHub ── for each open channel of the (number, device): channelseq += 1,
//!              frame kept in the channel's backlog ──► watch ──► socket task(s)
//! ```
//!
//! Types are `org.camaraproject.webrtc-events.v0.<name>`. `data.sequenceNumber` counts
//! per media session from 1 (the caller of [`EventHub::publish`] assigns it); the
//! extension attribute `channelseq` counts per channel from 1, so a client that reconnects
//! with `?last_seq=N` gets every frame after N the channel still holds.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime};

use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};

use crate::auth::random_hex;

/// Frames a channel keeps for replay.
const BACKLOG: usize = 1024;

/// The event types the gateway sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// An incoming call for the web user, with the offer inline.
    SessionInvitation,
    /// A media session's status changed.
    SessionStatus,
    /// A registration ended on the network side.
    RegistrationEnds,
    /// An event subscription ended (sent to its sink only).
    SubscriptionEnded,
}

impl EventType {
    /// The CloudEvents `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionInvitation => "org.camaraproject.webrtc-events.v0.session-invitation",
            Self::SessionStatus => "org.camaraproject.webrtc-events.v0.session-status",
            Self::RegistrationEnds => "org.camaraproject.webrtc-events.v0.registration-ends",
            Self::SubscriptionEnded => "org.camaraproject.webrtc-events.v0.subscription-ended",
        }
    }
}

/// A CloudEvent in the JSON event format (CloudEvents 1.0 §3, JSON format §3).
#[derive(Debug, Clone, Serialize)]
pub struct CloudEvent {
    /// Unique per event.
    pub id: String,
    /// The resource the event is about (a URI reference).
    pub source: String,
    /// `org.camaraproject.webrtc-events.v0.*`.
    #[serde(rename = "type")]
    pub event_type: &'static str,
    /// Always `1.0`.
    pub specversion: &'static str,
    /// Always `application/json`.
    pub datacontenttype: &'static str,
    /// When it happened (RFC 3339).
    pub time: String,
    /// The event's payload.
    pub data: Value,
    /// Extension attribute: the frame's sequence on its notification channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channelseq: Option<u64>,
}

impl CloudEvent {
    /// A new event of `event_type` about `source`.
    pub fn new(event_type: EventType, source: String, data: Value) -> Self {
        let time = OffsetDateTime::from(SystemTime::now())
            .format(&Rfc3339)
            .unwrap_or_default();
        CloudEvent {
            // No randomness left is not worth losing the event for: fall back to the time.
            id: random_hex(16).unwrap_or_else(|_| time.clone()),
            source,
            event_type: event_type.as_str(),
            specversion: "1.0",
            datacontenttype: "application/json",
            time,
            data,
            channelseq: None,
        }
    }
}

/// Who an event is for: the channels of `number`, only those of `device` when set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Audience {
    pub(crate) number: String,
    pub(crate) device: Option<String>,
}

/// One notification channel's state.
#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) device_id: String,
    pub(crate) number: String,
    /// The `channelseq` of the newest frame.
    last_seq: u64,
    /// The newest frame a socket of this channel has been sent.
    pub(crate) delivered: u64,
    backlog: VecDeque<(u64, String)>,
    latest: watch::Sender<u64>,
    /// Sockets open on the channel now.
    pub(crate) sockets: usize,
    /// Bumped each time the channel loses its last socket (or is created): a grace timer
    /// only expires the channel if no socket came and went since it started.
    pub(crate) idle_epoch: u64,
    pub(crate) idle_since: Option<Instant>,
}

/// A subscription's share of the events: those of its types for its audience go into
/// its delivery queue.
#[derive(Debug)]
pub(crate) struct Subscriber {
    pub(crate) to: Audience,
    pub(crate) types: Vec<String>,
    pub(crate) queue: mpsc::Sender<CloudEvent>,
}

/// The open notification channels (by channel id) and the event subscriptions (by
/// subscription id).
#[derive(Debug, Default)]
pub struct EventHub {
    channels: Mutex<HashMap<String, Channel>>,
    subscribers: Mutex<HashMap<String, Subscriber>>,
}

impl EventHub {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<String, Channel>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The subscriptions' queues.
    pub(crate) fn subscribers(&self) -> MutexGuard<'_, HashMap<String, Subscriber>> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a channel for `(number, device_id)`; returns its id and the idle epoch its
    /// grace timer must see unchanged.
    pub(crate) fn open(
        &self,
        number: &str,
        device_id: &str,
    ) -> Result<(String, u64), crate::ApiError> {
        let id = random_hex(16)?;
        let (latest, _) = watch::channel(0);
        let channel = Channel {
            device_id: device_id.to_owned(),
            number: number.to_owned(),
            last_seq: 0,
            delivered: 0,
            backlog: VecDeque::new(),
            latest,
            sockets: 0,
            idle_epoch: 1,
            idle_since: Some(Instant::now()),
        };
        self.lock().insert(id.clone(), channel);
        Ok((id, 1))
    }

    /// Hands `event` to every channel of `to`, each with its own `channelseq`, and to
    /// every subscription of `to` that asked for its type.
    pub(crate) fn publish(&self, to: &Audience, event: &CloudEvent) {
        for (id, sub) in self.subscribers().iter() {
            let device_matches = match (&sub.to.device, &to.device) {
                (Some(wanted), Some(device)) => wanted == device,
                _ => true,
            };
            let wanted = sub.types.iter().any(|t| t == event.event_type);
            if sub.to.number == to.number && device_matches && wanted {
                // A sink that cannot keep up loses events rather than holding up calls.
                if sub.queue.try_send(event.clone()).is_err() {
                    tracing::warn!(subscription = %id, "delivery queue full: event dropped");
                }
            }
        }
        let mut channels = self.lock();
        for (id, c) in channels.iter_mut() {
            let device_matches = to.device.as_ref().is_none_or(|d| *d == c.device_id);
            if c.number != to.number || !device_matches {
                continue;
            }
            c.last_seq += 1;
            let mut framed = event.clone();
            framed.channelseq = Some(c.last_seq);
            let Ok(text) = serde_json::to_string(&framed) else {
                tracing::error!(channel = %id, "event not serialisable");
                continue;
            };
            if c.backlog.len() == BACKLOG {
                c.backlog.pop_front();
            }
            c.backlog.push_back((c.last_seq, text));
            c.latest.send_replace(c.last_seq);
        }
    }

    /// Frames of channel `id` after `channelseq` `after`, oldest first; `None` when the
    /// channel is gone. Marks them delivered.
    pub(crate) fn frames_after(&self, id: &str, after: u64) -> Option<Vec<(u64, String)>> {
        let mut channels = self.lock();
        let c = channels.get_mut(id)?;
        let frames: Vec<(u64, String)> = c
            .backlog
            .iter()
            .filter(|(seq, _)| *seq > after)
            .cloned()
            .collect();
        if let Some((last, _)) = frames.last() {
            c.delivered = c.delivered.max(*last);
        }
        Some(frames)
    }

    /// A receiver of the channel's newest `channelseq`.
    pub(crate) fn subscribe(&self, id: &str) -> Option<watch::Receiver<u64>> {
        self.lock().get(id).map(|c| c.latest.subscribe())
    }

    /// Whether any channel of `number` (of `device`, when set) is open.
    pub(crate) fn has_channel(&self, number: &str, device: Option<&str>) -> bool {
        self.lock()
            .values()
            .any(|c| c.number == number && device.is_none_or(|d| d == c.device_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_have_the_cloudevents_attributes_and_camara_types() {
        let e = CloudEvent::new(
            EventType::SessionStatus,
            "/webrtc-call-handling/v0.3/sessions/ab".into(),
            json!({ "mediaSessionId": "ab", "status": "Ringing", "sequenceNumber": 1 }),
        );
        let v = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(
            v["type"],
            "org.camaraproject.webrtc-events.v0.session-status"
        );
        assert_eq!(v["datacontenttype"], "application/json");
        assert_eq!(v["id"].as_str().map(str::len), Some(32));
        assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert!(v.get("channelseq").is_none(), "set per channel only");
        assert_eq!(
            EventType::SessionInvitation.as_str(),
            "org.camaraproject.webrtc-events.v0.session-invitation"
        );
        assert_eq!(
            EventType::RegistrationEnds.as_str(),
            "org.camaraproject.webrtc-events.v0.registration-ends"
        );
    }

    #[test]
    fn each_channel_of_the_audience_counts_its_own_sequence() {
        let hub = EventHub::default();
        let (a, _) = hub.open("+1555", "phone").unwrap_or_default();
        let (b, _) = hub.open("+1555", "laptop").unwrap_or_default();
        let (other, _) = hub.open("+1666", "phone").unwrap_or_default();
        let e = CloudEvent::new(EventType::SessionStatus, "/x".into(), json!({}));
        let everyone = Audience {
            number: "+1555".into(),
            device: None,
        };
        let phone = Audience {
            number: "+1555".into(),
            device: Some("phone".into()),
        };
        hub.publish(&everyone, &e);
        hub.publish(&phone, &e);
        let seqs = |id: &str| -> Vec<u64> {
            hub.frames_after(id, 0)
                .unwrap_or_default()
                .into_iter()
                .map(|(s, _)| s)
                .collect()
        };
        assert_eq!(seqs(&a), vec![1, 2]);
        assert_eq!(seqs(&b), vec![1]);
        assert!(seqs(&other).is_empty());
        let frame = &hub.frames_after(&a, 1).unwrap_or_default()[0].1;
        assert!(frame.contains("\"channelseq\":2"), "{frame}");
    }
}
