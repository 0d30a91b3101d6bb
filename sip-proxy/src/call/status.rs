//! CAMARA call statuses and the one mapping from SIP responses to them.

/// The status values the web side sees (CAMARA WebRTC call handling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CamaraStatus {
    /// Created, nothing sent or received yet.
    Initial,
    /// 183 Session Progress (early media possible).
    InProgress,
    /// 180 Ringing.
    Ringing,
    /// 181 Call Is Being Forwarded.
    Proceeding,
    /// 200 OK: the call is up.
    Connected,
    /// The call ended after it was connected.
    Terminated,
    /// Put on hold.
    Hold,
    /// Resumed from hold.
    Resume,
    /// The caller cancelled before answer (CANCEL / 487).
    SessionCancelled,
    /// The callee declined (603).
    Declined,
    /// Any other failure.
    Failed,
    /// 182 Queued.
    Waiting,
    /// No answer (408, 480).
    NoAnswer,
    /// The callee cannot be reached (404, 604).
    NotReachable,
    /// Busy (486, 600).
    Busy,
}

impl CamaraStatus {
    /// The JSON value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "Initial",
            Self::InProgress => "InProgress",
            Self::Ringing => "Ringing",
            Self::Proceeding => "Proceeding",
            Self::Connected => "Connected",
            Self::Terminated => "Terminated",
            Self::Hold => "Hold",
            Self::Resume => "Resume",
            Self::SessionCancelled => "SessionCancelled",
            Self::Declined => "Declined",
            Self::Failed => "Failed",
            Self::Waiting => "Waiting",
            Self::NoAnswer => "NoAnswer",
            Self::NotReachable => "NotReachable",
            Self::Busy => "Busy",
        }
    }

    /// The status a SIP response to our INVITE means for the web side; `None` for
    /// responses that change nothing visible (100 Trying, other 1xx).
    pub fn from_sip(status: u16) -> Option<Self> {
        Some(match status {
            180 => Self::Ringing,
            181 => Self::Proceeding,
            182 => Self::Waiting,
            183 => Self::InProgress,
            100..=199 => return None,
            200..=299 => Self::Connected,
            486 | 600 => Self::Busy,
            404 | 604 => Self::NotReachable,
            408 | 480 => Self::NoAnswer,
            603 => Self::Declined,
            487 => Self::SessionCancelled,
            _ => Self::Failed,
        })
    }

    /// Whether the call is over once this status is reached.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Terminated
                | Self::SessionCancelled
                | Self::Declined
                | Self::Failed
                | Self::NoAnswer
                | Self::NotReachable
                | Self::Busy
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_responses_map_to_camara_statuses() {
        use CamaraStatus::*;
        let table = [
            (100, None),
            (180, Some(Ringing)),
            (181, Some(Proceeding)),
            (182, Some(Waiting)),
            (183, Some(InProgress)),
            (199, None),
            (200, Some(Connected)),
            (486, Some(Busy)),
            (600, Some(Busy)),
            (404, Some(NotReachable)),
            (604, Some(NotReachable)),
            (408, Some(NoAnswer)),
            (480, Some(NoAnswer)),
            (603, Some(Declined)),
            (487, Some(SessionCancelled)),
            (500, Some(Failed)),
            (488, Some(Failed)),
        ];
        for (sip, camara) in table {
            assert_eq!(CamaraStatus::from_sip(sip), camara, "{sip}");
        }
        assert!(Busy.is_final() && !Ringing.is_final() && !Connected.is_final());
        assert_eq!(SessionCancelled.as_str(), "SessionCancelled");
    }
}
