//! CAMARA scopes, one per operation, as the API specifications name them
//! (`{api-name}:{operation}`), and the check every route makes.

/// `POST /webrtc-registration/v0.3/sessions`
pub const REGISTRATION_CREATE: &str = "webrtc-registration:create";
/// `GET /webrtc-registration/v0.3/sessions[/{id}]`
pub const REGISTRATION_READ: &str = "webrtc-registration:read";
/// `PUT /webrtc-registration/v0.3/sessions/{id}`
pub const REGISTRATION_UPDATE: &str = "webrtc-registration:update";
/// `DELETE /webrtc-registration/v0.3/sessions/{id}`
pub const REGISTRATION_DELETE: &str = "webrtc-registration:delete";
/// `POST /webrtc-call-handling/v0.3/sessions`
pub const CALL_CREATE: &str = "webrtc-call-handling:create";
/// `GET /webrtc-call-handling/v0.3/sessions/{id}`
pub const CALL_READ: &str = "webrtc-call-handling:read";
/// `PUT /webrtc-call-handling/v0.3/sessions/{id}/status`
pub const CALL_UPDATE: &str = "webrtc-call-handling:update";
/// `DELETE /webrtc-call-handling/v0.3/sessions/{id}`
pub const CALL_DELETE: &str = "webrtc-call-handling:delete";
/// `POST /webrtc-events/v0.2/subscriptions`
pub const EVENTS_CREATE: &str = "webrtc-events:create";
/// `GET /webrtc-events/v0.2/subscriptions[/{id}]`
pub const EVENTS_READ: &str = "webrtc-events:read";
/// `DELETE /webrtc-events/v0.2/subscriptions/{id}`
pub const EVENTS_DELETE: &str = "webrtc-events:delete";
/// `POST /notificationchannel/v0.1/{deviceId}/channels`
pub const CHANNEL_CREATE: &str = "notification-channel:create";
/// `GET {channelURL}` (the WebSocket upgrade)
pub const CHANNEL_READ: &str = "notification-channel:read";
/// `DELETE /notificationchannel/v0.1/{deviceId}/channels/{channelId}`
pub const CHANNEL_DELETE: &str = "notification-channel:delete";

/// Every scope the API knows: what a dev token carries when none are asked for.
pub const ALL: [&str; 14] = [
    REGISTRATION_CREATE,
    REGISTRATION_READ,
    REGISTRATION_UPDATE,
    REGISTRATION_DELETE,
    CALL_CREATE,
    CALL_READ,
    CALL_UPDATE,
    CALL_DELETE,
    EVENTS_CREATE,
    EVENTS_READ,
    EVENTS_DELETE,
    CHANNEL_CREATE,
    CHANNEL_READ,
    CHANNEL_DELETE,
];

/// The scopes of a token's `scope` claim (RFC 8693 §4.2, RFC 7662 §2.2: space-separated)
/// or `scp` claim (a string or an array of strings, as some identity providers write it).
pub(crate) fn from_claims(claims: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    use serde_json::Value;
    let mut out: Vec<String> = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => out.extend(s.split_whitespace().map(str::to_owned)),
            Some(Value::Array(items)) => out.extend(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .flat_map(str::split_whitespace)
                    .map(str::to_owned),
            ),
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_and_scp_are_read_in_all_their_shapes() {
        let claims = serde_json::json!({
            "scope": "webrtc-registration:create  webrtc-call-handling:read",
            "scp": ["webrtc-events:read", "webrtc-registration:create"],
        });
        let claims = claims.as_object().cloned().unwrap_or_default();
        assert_eq!(
            from_claims(&claims),
            [
                "webrtc-call-handling:read",
                "webrtc-events:read",
                "webrtc-registration:create"
            ]
        );
        let scp = serde_json::json!({"scp": "a b"});
        assert_eq!(
            from_claims(scp.as_object().unwrap_or(&Default::default())),
            ["a", "b"]
        );
    }
}
