//! The link between the JSON routes and the B2BUA call core: typed commands out over the
//! gateway's command channel, events in, and the per-session state the routes read.
//!
//! ```text
//!  route ── Command + correlation id ──► GatewayCommand::Call ──► call core (sip-proxy)
//!    ▲  awaits its CallResult (oneshot)                               │
//!    │                                                                ▼
//!  Sessions ◄── link task: CallResult → wake the route ◄── GatewayEvent channel
//!  (mediaSessionId → status, offer, answer)   CallEvent → update the session
//! ```
//!
//! One task owns the event receiver. Routes and the task share the session table behind a
//! mutex that is never held across an `.await`. The core answers every command with a
//! `CallResult` before the events the command caused, so a route that saw `Ok` knows the
//! session's later events will find it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use sip_proxy::call::{CallError, CallEvent, CallId, CamaraStatus, Command};
use sip_proxy::gateway::{GatewayCommand, GatewayEvent};
use sip_proxy::registration::RegEvent;
use tokio::sync::{mpsc, oneshot};

use crate::auth::random_hex;
use crate::events::{Audience, CloudEvent, EventHub, EventType};
use crate::registration::RegistrationStore;
use crate::ApiError;

/// How long the call core gets to take and answer a command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an ended session stays readable with GET.
const ENDED_RETENTION: Duration = Duration::from_secs(300);

/// CAMARA `SDPDescriptor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SdpDescriptor {
    /// The session description (RFC 8866).
    pub sdp: String,
}

/// CAMARA `MediaSessionInformation`, as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaSessionInformation {
    /// The id the gateway gave the session.
    pub media_session_id: String,
    /// Who placed the call (`tel:+…` or `sip:…@…`).
    pub originator_address: String,
    /// The caller's friendly name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub originator_name: Option<String>,
    /// Who is called.
    pub receiver_address: String,
    /// The callee's friendly name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver_name: Option<String>,
    /// The CAMARA session status.
    pub status: &'static str,
    /// The offer (the browser's for outgoing calls, the gateway's for incoming ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer: Option<SdpDescriptor>,
    /// The answer, once there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<SdpDescriptor>,
    /// The client's idempotency key of the create request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_correlator: Option<String>,
}

/// Who placed a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// The web user (POST /sessions).
    Outgoing,
    /// The IMS side, toward the web user.
    Incoming,
}

/// A session as the link keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) call: CallId,
    pub(crate) direction: Direction,
    /// The web user's phone number (the originator's, or the receiver's for incoming).
    pub(crate) owner: String,
    /// The device whose registration placed the call; `None` for incoming calls, which
    /// reach every device of the owner.
    pub(crate) device_id: Option<String>,
    pub(crate) status: CamaraStatus,
    /// Why the session ended, when it did.
    pub(crate) reason: Option<String>,
    pub(crate) info: MediaSessionInformation,
    /// The last `sequenceNumber` given to an event of this session.
    pub(crate) sequence: u64,
    ended_at: Option<Instant>,
}

impl Session {
    /// The information with the current status.
    pub(crate) fn information(&self) -> MediaSessionInformation {
        MediaSessionInformation {
            status: self.status.as_str(),
            ..self.info.clone()
        }
    }

    fn audience(&self) -> Audience {
        Audience {
            number: self.owner.clone(),
            device: self.device_id.clone(),
        }
    }

    fn source(&self) -> String {
        format!(
            "/webrtc-call-handling/v0.3/sessions/{}",
            self.info.media_session_id
        )
    }
}

/// A call the web user places (the validated `POST /sessions` body).
#[derive(Debug, Clone)]
pub(crate) struct NewCall {
    /// The token's phone number.
    pub(crate) owner: String,
    /// The registration's device.
    pub(crate) device_id: String,
    pub(crate) originator_address: String,
    pub(crate) originator_name: Option<String>,
    pub(crate) receiver_address: String,
    pub(crate) receiver_name: Option<String>,
    pub(crate) offer: String,
    pub(crate) client_correlator: Option<String>,
    /// Calls of this registration that may be in progress at once (0: no limit).
    pub(crate) max_calls: usize,
}

/// What `PUT …/status` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StatusUpdate {
    /// `InProgress`: 183 toward the caller.
    Progress,
    /// `Ringing`: 180.
    Ringing,
    /// `Connected` with the browser's answer: 200.
    Answer(String),
    /// `Hold`, with the browser's re-offer if it renegotiated.
    Hold(Option<String>),
    /// `Resume`, with the browser's re-offer if it renegotiated.
    Resume(Option<String>),
}

#[derive(Debug, Default)]
struct Table {
    by_id: HashMap<String, Session>,
    by_call: HashMap<CallId, String>,
    /// (owner, clientCorrelator) → mediaSessionId.
    correlators: HashMap<(String, String), String>,
    pending: HashMap<u64, oneshot::Sender<Result<(), CallError>>>,
    next_correlation: u64,
    /// Ids of calls the web side places; the core gives incoming calls ids with the top
    /// bit set, so the two never meet.
    next_call: u64,
}

impl Table {
    fn remove(&mut self, id: &str) {
        if let Some(s) = self.by_id.remove(id) {
            self.by_call.remove(&s.call);
            if let Some(c) = s.info.client_correlator {
                self.correlators.remove(&(s.owner, c));
            }
        }
    }

    fn prune(&mut self, now: Instant) {
        let old: Vec<String> = self
            .by_id
            .iter()
            .filter(|(_, s)| s.ended_at.is_some_and(|t| now >= t + ENDED_RETENTION))
            .map(|(id, _)| id.clone())
            .collect();
        for id in old {
            self.remove(&id);
        }
    }

    /// The caller's session `id`: 404 when unknown, 403 when another user's.
    fn own(&mut self, id: &str, owner: &str) -> Result<&mut Session, ApiError> {
        match self.by_id.get_mut(id) {
            None => Err(ApiError::NotFound("no such media session".into())),
            Some(s) if s.owner != owner => Err(ApiError::PermissionDenied(
                "the media session belongs to another user".into(),
            )),
            Some(s) => Ok(s),
        }
    }
}

struct Inner {
    commands: mpsc::Sender<GatewayCommand>,
    table: Mutex<Table>,
    hub: Arc<EventHub>,
    registrations: Arc<RegistrationStore>,
}

/// The API's handle on the call core. Cheap to clone.
#[derive(Clone)]
pub struct CallLink {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CallLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLink").finish_non_exhaustive()
    }
}

impl CallLink {
    /// Starts the link over the gateway's user channels (`UserChannels { commands,
    /// events }` from `sip_proxy::transport::start`): spawns the task that owns `events`.
    /// Must be called inside a tokio runtime. The task ends when the event channel closes.
    pub fn start(
        commands: mpsc::Sender<GatewayCommand>,
        events: mpsc::Receiver<GatewayEvent>,
    ) -> Self {
        let link = CallLink {
            inner: Arc::new(Inner {
                commands,
                table: Mutex::new(Table::default()),
                hub: Arc::new(EventHub::default()),
                registrations: Arc::new(RegistrationStore::default()),
            }),
        };
        tokio::spawn(link.clone().run(events));
        link
    }

    /// The notification channels the link's events go to.
    pub(crate) fn hub(&self) -> Arc<EventHub> {
        self.inner.hub.clone()
    }

    /// The registrations (shared with the routes: network de-registration ends them).
    pub(crate) fn registrations(&self) -> Arc<RegistrationStore> {
        self.inner.registrations.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.inner
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The event loop: results wake their routes, call events update sessions.
    async fn run(self, mut events: mpsc::Receiver<GatewayEvent>) {
        while let Some(event) = events.recv().await {
            self.apply(event);
        }
        tracing::warn!("the call core's event channel closed");
        // Routes waiting on a result see their sender dropped and answer 503.
        self.lock().pending.clear();
    }

    fn apply(&self, event: GatewayEvent) {
        match event {
            GatewayEvent::CallResult { id, result } => {
                if let Some(tx) = self.lock().pending.remove(&id) {
                    // The route gave up waiting (timeout or client gone): nothing to wake.
                    let _ = tx.send(result);
                }
            }
            GatewayEvent::Call(CallEvent::Incoming {
                call,
                from,
                to,
                offer,
            }) => self.incoming(call, from, to, offer),
            GatewayEvent::Call(CallEvent::Status {
                call,
                status,
                reason,
                sdp,
            }) => self.status(call, status, reason, sdp),
            GatewayEvent::Registration(RegEvent::Ended { number, .. }) => {
                self.registration_ended(&number);
            }
            GatewayEvent::Registration(_) | GatewayEvent::NextHop(_) => {}
        }
    }

    fn incoming(&self, call: CallId, from: String, to: String, offer: String) {
        let Ok(id) = random_hex(16) else {
            tracing::error!(call = call.0, "no randomness for a media session id");
            return;
        };
        let originator_address = if from.starts_with('+') {
            format!("tel:{from}")
        } else {
            // RFC 3323 §4.1.1.3: the anonymous caller.
            "sip:anonymous@anonymous.invalid".to_owned()
        };
        let session = Session {
            call,
            direction: Direction::Incoming,
            owner: to.clone(),
            device_id: None,
            status: CamaraStatus::Initial,
            reason: None,
            info: MediaSessionInformation {
                media_session_id: id.clone(),
                originator_address,
                originator_name: None,
                receiver_address: format!("tel:{to}"),
                receiver_name: None,
                status: CamaraStatus::Initial.as_str(),
                offer: Some(SdpDescriptor { sdp: offer }),
                answer: None,
                client_correlator: None,
            },
            sequence: 1,
            ended_at: None,
        };
        // CAMARA: the callee's session-invitation is sequenceNumber 1, the offer inline.
        let mut data = serde_json::to_value(session.information()).unwrap_or_default();
        data["sequenceNumber"] = 1.into();
        let event = CloudEvent::new(EventType::SessionInvitation, session.source(), data);
        let mut table = self.lock();
        table.prune(Instant::now());
        self.inner.hub.publish(&session.audience(), &event);
        table.by_call.insert(call, id.clone());
        table.by_id.insert(id, session);
    }

    fn status(
        &self,
        call: CallId,
        status: CamaraStatus,
        reason: Option<String>,
        sdp: Option<String>,
    ) {
        let mut table = self.lock();
        let Some(id) = table.by_call.get(&call).cloned() else {
            return;
        };
        let Some(s) = table.by_id.get_mut(&id) else {
            return;
        };
        s.status = status;
        if reason.is_some() {
            s.reason = reason;
        }
        // The answer for an outgoing call, or for the browser's hold/resume re-offer.
        let mut answer = None;
        if let Some(sdp) = sdp {
            let first = s.info.answer.is_none() && s.direction == Direction::Outgoing;
            let reanswer = matches!(status, CamaraStatus::Hold | CamaraStatus::Resume);
            if first || reanswer {
                answer = Some(SdpDescriptor { sdp });
                s.info.answer = answer.clone();
            }
        }
        if status.is_final() && s.ended_at.is_none() {
            s.ended_at = Some(Instant::now());
        }
        s.sequence += 1;
        let mut data = serde_json::json!({
            "mediaSessionId": s.info.media_session_id,
            "status": status.as_str(),
            "sequenceNumber": s.sequence,
        });
        if let Some(a) = answer {
            data["answer"] = serde_json::to_value(a).unwrap_or_default();
        }
        let event = CloudEvent::new(EventType::SessionStatus, s.source(), data);
        self.inner.hub.publish(&s.audience(), &event);
    }

    /// Sends `command` to the call core and waits for its result. The outer error is the
    /// link's (core gone or too slow: 503); the inner one is the core's refusal.
    async fn send(&self, command: Command) -> Result<Result<(), CallError>, ApiError> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut table = self.lock();
            table.next_correlation += 1;
            let id = table.next_correlation;
            table.pending.insert(id, tx);
            id
        };
        let unavailable = |message: &str| ApiError::Unavailable {
            message: message.into(),
            retry_after_secs: 1,
        };
        let exchange = async {
            self.inner
                .commands
                .send(GatewayCommand::Call { id, command })
                .await
                .map_err(|_| unavailable("the call core is not running"))?;
            rx.await
                .map_err(|_| unavailable("the call core stopped before answering"))
        };
        let outcome = tokio::time::timeout(COMMAND_TIMEOUT, exchange).await;
        match outcome {
            Ok(result) => result,
            Err(_) => {
                self.lock().pending.remove(&id);
                Err(unavailable("the call core did not answer in time"))
            }
        }
    }

    /// Places a call. Returns whether it was created now (`false`: an earlier request
    /// with the same `clientCorrelator` created it) and its information.
    pub(crate) async fn originate(
        &self,
        new: NewCall,
    ) -> Result<(bool, MediaSessionInformation), ApiError> {
        let (call, info) = {
            let mut table = self.lock();
            table.prune(Instant::now());
            if let Some(c) = &new.client_correlator {
                let key = (new.owner.clone(), c.clone());
                if let Some(s) = table
                    .correlators
                    .get(&key)
                    .and_then(|id| table.by_id.get(id))
                {
                    return Ok((false, s.information()));
                }
            }
            // One registration is one (owner, device): its calls not ended yet.
            let active = table
                .by_id
                .values()
                .filter(|s| s.owner == new.owner && s.ended_at.is_none())
                .filter(|s| s.device_id.as_deref() == Some(new.device_id.as_str()))
                .count();
            crate::limits::check_calls(new.max_calls, active)?;
            let id = random_hex(16)?;
            table.next_call += 1;
            let call = CallId(table.next_call);
            let info = MediaSessionInformation {
                media_session_id: id.clone(),
                originator_address: new.originator_address.clone(),
                originator_name: new.originator_name,
                receiver_address: new.receiver_address.clone(),
                receiver_name: new.receiver_name,
                status: CamaraStatus::Initial.as_str(),
                offer: Some(SdpDescriptor {
                    sdp: new.offer.clone(),
                }),
                answer: None,
                client_correlator: new.client_correlator.clone(),
            };
            if let Some(c) = new.client_correlator {
                table.correlators.insert((new.owner.clone(), c), id.clone());
            }
            table.by_call.insert(call, id.clone());
            table.by_id.insert(
                id,
                Session {
                    call,
                    direction: Direction::Outgoing,
                    owner: new.owner,
                    device_id: Some(new.device_id),
                    sequence: 0,
                    status: CamaraStatus::Initial,
                    reason: None,
                    info: info.clone(),
                    ended_at: None,
                },
            );
            (call, info)
        };
        let command = Command::Originate {
            call,
            from: new.originator_address,
            to: new.receiver_address,
            offer: new.offer,
        };
        match self.send(command).await {
            Ok(Ok(())) => Ok((true, info)),
            Ok(Err(refused)) => {
                self.lock().remove(&info.media_session_id);
                Err(refused.into())
            }
            Err(e) => {
                self.lock().remove(&info.media_session_id);
                Err(e)
            }
        }
    }

    /// The caller's session `id`.
    pub(crate) fn get(&self, id: &str, owner: &str) -> Result<MediaSessionInformation, ApiError> {
        Ok(self.lock().own(id, owner)?.information())
    }

    /// Ends the caller's session `id` (the core cancels, declines or hangs up by state).
    /// An ended session is forgotten.
    pub(crate) async fn hangup(&self, id: &str, owner: &str) -> Result<(), ApiError> {
        let call = {
            let mut table = self.lock();
            let s = table.own(id, owner)?;
            if s.ended_at.is_some() {
                table.remove(id);
                return Ok(());
            }
            s.call
        };
        match self.send(Command::Hangup { call }).await? {
            // It ended on the IMS side in between: the caller's wish is met.
            Ok(()) | Err(CallError::UnknownCall(_)) => Ok(()),
            Err(refused) => Err(refused.into()),
        }
    }

    /// Applies `PUT …/status` to the caller's session `id` and returns the information
    /// after it.
    pub(crate) async fn update(
        &self,
        id: &str,
        owner: &str,
        update: StatusUpdate,
    ) -> Result<MediaSessionInformation, ApiError> {
        let call = self.live_call(id, owner)?;
        let command = match update.clone() {
            StatusUpdate::Progress => Command::Progress { call },
            StatusUpdate::Ringing => Command::Ringing { call },
            StatusUpdate::Answer(sdp) => Command::Answer { call, sdp },
            StatusUpdate::Hold(offer) => Command::Hold { call, offer },
            StatusUpdate::Resume(offer) => Command::Resume { call, offer },
        };
        self.send(command).await??;
        let mut table = self.lock();
        let s = table.own(id, owner)?;
        match update {
            StatusUpdate::Progress => s.status = CamaraStatus::InProgress,
            StatusUpdate::Ringing => s.status = CamaraStatus::Ringing,
            StatusUpdate::Answer(sdp) => {
                s.status = CamaraStatus::Connected;
                s.info.answer = Some(SdpDescriptor { sdp });
            }
            // The status changes when the IMS side accepts the re-INVITE (event).
            StatusUpdate::Hold(offer) | StatusUpdate::Resume(offer) => {
                if let Some(sdp) = offer {
                    s.info.offer = Some(SdpDescriptor { sdp });
                }
            }
        }
        Ok(s.information())
    }

    /// The call of the caller's session `id`, if it has not ended (409 if it has).
    fn live_call(&self, id: &str, owner: &str) -> Result<CallId, ApiError> {
        let mut table = self.lock();
        let s = table.own(id, owner)?;
        if s.ended_at.is_some() {
            return Err(ApiError::Conflict("the session has ended".into()));
        }
        Ok(s.call)
    }

    /// Sends `digits` as DTMF toward IMS in the caller's session `id`.
    pub(crate) async fn dtmf(
        &self,
        id: &str,
        owner: &str,
        digits: String,
        duration_ms: u32,
    ) -> Result<(), ApiError> {
        let call = self.live_call(id, owner)?;
        let command = Command::Dtmf {
            call,
            digits,
            duration_ms,
        };
        Ok(self.send(command).await??)
    }

    /// Makes a web user's number reachable for incoming calls (trunk and lab modes).
    /// Never waits: a full command queue drops it, logged.
    pub(crate) fn user_registered(&self, number: &str) {
        self.fire(GatewayCommand::AddUser(number.to_owned()));
    }

    /// The number's last registration ended.
    pub(crate) fn user_unregistered(&self, number: &str) {
        self.fire(GatewayCommand::RemoveUser(number.to_owned()));
    }

    /// The network ended `number`'s registration (pcscf mode): its registrations go,
    /// each device hears `registration-ends`.
    fn registration_ended(&self, number: &str) {
        for (id, device) in self.inner.registrations.remove_number(number) {
            let data = serde_json::json!({ "registrationId": id, "deviceId": device });
            let event = CloudEvent::new(
                EventType::RegistrationEnds,
                format!("/webrtc-registration/v0.3/sessions/{id}"),
                data,
            );
            let to = Audience {
                number: number.to_owned(),
                device: Some(device),
            };
            self.inner.hub.publish(&to, &event);
        }
    }

    /// Ends the live calls a device can no longer follow (its last channel expired):
    /// the device's outgoing calls, and the number's incoming calls when no channel of
    /// the number is left.
    pub(crate) fn end_calls_of(&self, number: &str, device: &str) {
        let device_left = self.inner.hub.has_channel(number, Some(device));
        let any_left = self.inner.hub.has_channel(number, None);
        let calls: Vec<CallId> = self
            .lock()
            .by_id
            .values()
            .filter(|s| s.owner == number && s.ended_at.is_none())
            .filter(|s| match &s.device_id {
                Some(d) => d == device && !device_left,
                None => !any_left,
            })
            .map(|s| s.call)
            .collect();
        for call in calls {
            tracing::info!(call = call.0, "notification channel lost: ending the call");
            let link = self.clone();
            tokio::spawn(async move {
                // Whatever the core answers, the call is ending or already gone.
                let _ = link.send(Command::Hangup { call }).await;
            });
        }
    }

    fn fire(&self, command: GatewayCommand) {
        if let Err(e) = self.inner.commands.try_send(command) {
            tracing::warn!(error = %e, "call core command dropped");
        }
    }
}
