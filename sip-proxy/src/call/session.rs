//! Requests inside a confirmed call and the session timer (RFC 4028).
//!
//! ```text
//!  re-INVITE / UPDATE from IMS ─► refresh, hold or resume, answered from the gateway's own
//!                                  IMS-side SDP: the browser's ICE/DTLS is never touched
//!  session timer: we refresh ─► UPDATE at interval/2 (2xx resets it; 408/481 ends the call)
//!                 they refresh ─► no refresh by interval − min(32 s, interval/3) ─► BYE
//! ```

use std::time::{Duration, Instant};

use super::{CallCore, CallId, CamaraStatus, Purpose, Role};
use crate::media::MediaControl;
use crate::message::builder::response_to;
use crate::message::{HeaderName, Method, Request, Response};
use crate::sdp::{Attribute, Direction, SessionDescription};
use crate::transaction::{TransactionId, TransactionLayer};

/// A running session timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SessionTimer {
    interval: Duration,
    /// Whether this side sends the refreshes.
    we_refresh: bool,
    /// The last time the session was refreshed.
    refreshed: Instant,
}

impl SessionTimer {
    /// When the timer next needs attention: our refresh at half the interval, or the
    /// expiry of a session the peer should have refreshed (RFC 4028 §10).
    fn due(&self) -> Instant {
        if self.we_refresh {
            self.refreshed + self.interval / 2
        } else {
            let margin = Duration::from_secs(32).min(self.interval / 3);
            self.refreshed + self.interval - margin
        }
    }
}

/// RFC 4028 §7.2: the timer a 2xx to our INVITE sets up. `refresher=uac` (or none) means
/// we, the UAC, refresh.
pub(super) fn timer_from_answer(resp: &Response<'_>, now: Instant) -> Option<SessionTimer> {
    let se = resp.headers.session_expires()?;
    let we_refresh = se
        .refresher()
        .is_none_or(|r| r.eq_ignore_ascii_case(b"uac"));
    Some(SessionTimer {
        interval: Duration::from_secs(u64::from(se.delta)),
        we_refresh,
        refreshed: now,
    })
}

/// RFC 4028 §9: the Session-Expires value a UAS answers an INVITE with, and the timer.
/// When the request names no refresher, the gateway asks the caller (the IMS side) to
/// refresh.
pub(super) fn timer_for_request(req: &Request<'_>, now: Instant) -> Option<(String, SessionTimer)> {
    let se = req.headers.session_expires()?;
    let refresher = match se.refresher() {
        Some(r) if r.eq_ignore_ascii_case(b"uas") => "uas",
        _ => "uac",
    };
    let timer = SessionTimer {
        interval: Duration::from_secs(u64::from(se.delta)),
        we_refresh: refresher == "uas",
        refreshed: now,
    };
    Some((format!("{};refresher={refresher}", se.delta), timer))
}

impl<M: MediaControl> CallCore<M> {
    /// When [`handle_timeout`](Self::handle_timeout) must next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timers = self.calls.values().filter_map(|c| c.timer.map(|t| t.due()));
        let resends = self
            .calls
            .values()
            .filter_map(|c| c.unacked.as_ref().and_then(|(_, s)| s.poll_timeout()));
        timers.chain(resends).chain(self.reliable_timeout()).min()
    }

    /// Runs due session timers and 2xx retransmissions.
    pub fn handle_timeout(&mut self, now: Instant, layer: &mut TransactionLayer) {
        self.resend_unacked(now, layer);
        self.resend_reliable(now, layer);
        let due: Vec<(CallId, bool)> = self
            .calls
            .iter()
            .filter_map(|(id, c)| {
                c.timer
                    .filter(|t| t.due() <= now)
                    .map(|t| (*id, t.we_refresh))
            })
            .collect();
        for (call, we_refresh) in due {
            if we_refresh {
                self.send_refresh(now, call, layer);
            } else {
                tracing::info!(
                    call = call.0,
                    "session expired: the IMS side did not refresh"
                );
                self.send_bye(now, call, layer);
                self.finish(
                    call,
                    CamaraStatus::Terminated,
                    Some("session expired".into()),
                );
            }
        }
    }

    /// RFC 4028 §7.4: a refresh as UPDATE without a body, naming ourselves refresher.
    fn send_refresh(&mut self, now: Instant, call: CallId, layer: &mut TransactionLayer) {
        let via = self.via(call);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(timer) = c.timer.as_mut() else {
            return;
        };
        // Until the answer comes, do not send another one.
        timer.refreshed = now;
        let value = format!(
            "{};refresher={}",
            timer.interval.as_secs(),
            refresher_label(c.role, true)
        );
        let Some(dialog) = c.dialog.as_mut() else {
            return;
        };
        let mut update = dialog.request(Method::Update, &via);
        update
            .headers
            .set(HeaderName::SessionExpires, value.into_bytes());
        let _ = self.send(now, call, Purpose::Refresh, &update, layer);
    }

    /// The answer to our refresh: 2xx keeps the session, 408/481 end it (RFC 4028 §10).
    pub(super) fn on_refresh_response(
        &mut self,
        now: Instant,
        call: CallId,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    ) {
        match resp.status {
            200..=299 => {
                if let Some(t) = self.calls.get_mut(&call).and_then(|c| c.timer.as_mut()) {
                    t.refreshed = now;
                }
            }
            408 | 481 => {
                self.send_bye(now, call, layer);
                self.finish(
                    call,
                    CamaraStatus::Terminated,
                    Some(format!("refresh failed: SIP {}", resp.status)),
                );
            }
            _ => {}
        }
    }

    /// A re-INVITE or UPDATE from the IMS side in a confirmed call: a session refresh, a
    /// hold or a resume. Answered from the gateway's own IMS-side description, so the
    /// browser's ICE and DTLS never see it.
    pub(super) fn on_target_refresh(
        &mut self,
        now: Instant,
        call: CallId,
        tx: TransactionId,
        req: &Request<'_>,
        layer: &mut TransactionLayer,
    ) {
        if req.method == Method::Invite && self.reinvite_pending(call) {
            // RFC 3261 §14.2: re-INVITEs crossed; the UAS answers 491 Request Pending.
            let _ = layer.send_response(now, tx, &response_to(req, 491, None));
            return;
        }
        let contact = String::from_utf8_lossy(&self.contact(&self.user_of(call))).into_owned();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if let Some(t) = c.timer.as_mut() {
            t.refreshed = now;
        }
        let offer = std::str::from_utf8(&req.body)
            .ok()
            .filter(|b| !b.is_empty())
            .map(SessionDescription::parse);
        let offered_direction = match offer {
            Some(Ok(sdp)) => sdp.audio().map(|(_, m)| Direction::of(m)),
            Some(Err(_)) => {
                let _ = layer.send_response(now, tx, &response_to(req, 488, None));
                return;
            }
            None => None,
        };
        let mut resp = response_to(req, 200, None);
        resp.add_header("Contact", format!("<{contact}>"));
        if let Some(t) = c.timer {
            let refresher = refresher_label(c.role, t.we_refresh);
            resp.add_header(
                "Session-Expires",
                format!("{};refresher={refresher}", t.interval.as_secs()),
            );
        }
        let mut change = None;
        if let (Some(direction), Some(local)) = (offered_direction, c.local_ims_sdp.as_mut()) {
            let answer_direction = direction.answer();
            if set_direction(local, answer_direction) {
                change = Some(direction);
            }
        }
        // RFC 3264 §8: a re-offer gets an answer; an offerless re-INVITE gets our offer.
        if req.method == Method::Invite || offered_direction.is_some() {
            if let Some(local) = &c.local_ims_sdp {
                resp.set_body("application/sdp", local.to_string().into_bytes());
            }
        }
        let _ = layer.send_response(now, tx, &resp);
        let Some(direction) = change else { return };
        let held = direction != Direction::SendRecv;
        if let Some(n) = c.negotiated.as_mut() {
            // The IMS side's flow follows its offer; the browser leg is not renegotiated.
            n.flow.to_webrtc = matches!(direction, Direction::SendRecv | Direction::SendOnly);
            n.flow.to_ims = matches!(direction, Direction::SendRecv | Direction::RecvOnly);
            let (media, negotiated) = (c.media, n.clone());
            if let Err(e) = self.media.update(media, &negotiated) {
                tracing::warn!(call = call.0, error = %e, "media update refused");
            }
        }
        let status = if held {
            CamaraStatus::Hold
        } else {
            CamaraStatus::Resume
        };
        tracing::info!(
            call = call.0,
            status = status.as_str(),
            "IMS side changed the media direction"
        );
        self.emit(call, status, None, None);
    }
}

/// The `refresher` value naming us (`we_refresh`) or the peer, by our role in the dialog:
/// we are the UAC of the calls we place and the UAS of the calls we receive.
pub(super) fn refresher_label(role: Role, we_refresh: bool) -> &'static str {
    match (role, we_refresh) {
        (Role::Mo, true) | (Role::Mt, false) => "uac",
        (Role::Mo, false) | (Role::Mt, true) => "uas",
    }
}

/// Sets the direction attribute of the audio section; bumps the `o=` version when it
/// changed (RFC 3264 §8). Returns whether it changed.
pub(super) fn set_direction(sdp: &mut SessionDescription, direction: Direction) -> bool {
    let Some(audio) = sdp
        .media
        .iter_mut()
        .find(|m| m.kind == "audio" && m.port != 0)
    else {
        return false;
    };
    if Direction::of(audio) == direction {
        return false;
    }
    audio.attributes.retain(|a| {
        !matches!(
            a.name.as_str(),
            "sendrecv" | "sendonly" | "recvonly" | "inactive"
        )
    });
    audio.attributes.push(Attribute::flag(direction.as_str()));
    bump_version(sdp);
    true
}

fn bump_version(sdp: &mut SessionDescription) {
    let mut fields: Vec<String> = sdp.origin.split(' ').map(str::to_owned).collect();
    if let Some(v) = fields
        .get_mut(2)
        .and_then(|v| v.parse::<u64>().ok().map(|n| (v, n)))
    {
        *v.0 = (v.1 + 1).to_string();
    }
    sdp.origin = fields.join(" ");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_due_times_follow_rfc_4028() {
        let now = Instant::now();
        let ours = SessionTimer {
            interval: Duration::from_secs(1800),
            we_refresh: true,
            refreshed: now,
        };
        assert_eq!(ours.due(), now + Duration::from_secs(900));
        let theirs = SessionTimer {
            we_refresh: false,
            ..ours
        };
        assert_eq!(theirs.due(), now + Duration::from_secs(1800 - 32));
        let short = SessionTimer {
            interval: Duration::from_secs(90),
            we_refresh: false,
            refreshed: now,
        };
        assert_eq!(short.due(), now + Duration::from_secs(60));
    }

    #[test]
    fn direction_changes_bump_the_origin_version() {
        let mut sdp = SessionDescription::parse(
            "v=0\r\no=rtcgate 1 7 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\na=sendrecv\r\n",
        )
        .unwrap();
        assert!(set_direction(&mut sdp, Direction::RecvOnly));
        assert_eq!(sdp.origin, "rtcgate 1 8 IN IP4 192.0.2.1");
        assert_eq!(Direction::of(sdp.audio().unwrap().1), Direction::RecvOnly);
        assert!(
            !set_direction(&mut sdp, Direction::RecvOnly),
            "no change, no new version"
        );
        assert_eq!(sdp.origin, "rtcgate 1 8 IN IP4 192.0.2.1");
    }
}
