//! `GET /openapi.json`: the OpenAPI 3.0 description of every route the router serves,
//! written by hand next to the code (a test checks it names every route of the router).

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

/// A `$ref` to a component schema.
fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A JSON body of schema `name`.
fn body(name: &str) -> Value {
    json!({ "content": { "application/json": { "schema": schema(name) } } })
}

/// A path parameter.
fn param(name: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } })
}

/// The `ErrorInfo` answers every operation may give.
fn errors(codes: &[u16]) -> Map<String, Value> {
    let mut out = Map::new();
    for code in codes {
        out.insert(
            code.to_string(),
            json!({ "description": "CAMARA ErrorInfo", "content": { "application/json": {
                "schema": schema("ErrorInfo") } } }),
        );
    }
    out
}

/// One operation: `ok` is `(status, description, response schema or none)`.
fn op(
    summary: &str,
    params: &[&str],
    request: Option<&str>,
    ok: (u16, &str, Option<&str>),
    error_codes: &[u16],
) -> Value {
    let mut responses = errors(error_codes);
    let (status, description, schema_name) = ok;
    let mut answer = json!({ "description": description });
    if let Some(name) = schema_name {
        answer["content"] = json!({ "application/json": { "schema": schema(name) } });
    }
    responses.insert(status.to_string(), answer);
    let mut o = json!({ "summary": summary, "responses": responses });
    let mut parameters: Vec<Value> = params.iter().map(|p| param(p)).collect();
    parameters.push(json!({ "$ref": "#/components/parameters/XCorrelator" }));
    o["parameters"] = Value::Array(parameters);
    if let Some(name) = request {
        o["requestBody"] = body(name);
        o["requestBody"]["required"] = Value::Bool(true);
    }
    o
}

/// The component schemas.
fn schemas() -> Value {
    let string = json!({ "type": "string" });
    let sdp = schema("SDPDescriptor");
    json!({
        "ErrorInfo": { "type": "object", "required": ["status", "code", "message"], "properties": {
            "status": { "type": "integer" }, "code": string, "message": string } },
        "DevTokenRequest": { "type": "object", "required": ["phoneNumber"], "properties": {
            "phoneNumber": { "type": "string", "pattern": "^\\+[0-9]{4,15}$" }, "scope": string } },
        "DevToken": { "type": "object", "properties": { "access_token": string,
            "token_type": { "type": "string", "enum": ["Bearer"] }, "expires_in": { "type": "integer" } } },
        "RegistrationRequest": { "type": "object", "required": ["deviceId"], "properties": {
            "deviceId": { "type": "string", "minLength": 1, "maxLength": 256 },
            "registrationExpireTime": { "type": "string", "format": "date-time" } } },
        "RegistrationInformation": { "type": "object", "properties": {
            "registrationId": string, "deviceId": string,
            "regInfo": { "type": "object", "properties": { "phoneNumber": string,
                "regStatus": { "type": "string", "enum": ["Registered"] } } },
            "expiresAt": { "type": "string", "format": "date-time" } } },
        "RegistrationList": { "type": "array", "items": schema("RegistrationInformation") },
        "SDPDescriptor": { "type": "object", "required": ["sdp"], "properties": {
            "sdp": { "type": "string", "maxLength": 65536 } } },
        "MediaSessionRequest": { "type": "object",
            "required": ["originatorAddress", "receiverAddress", "offer"], "properties": {
            "originatorAddress": schema("Address"), "receiverAddress": schema("Address"),
            "originatorName": string, "receiverName": string, "offer": sdp,
            "clientCorrelator": string } },
        "Address": { "type": "string", "pattern": "^(tel:\\+[0-9]{4,15}|sip:[^@\\s<>]+@[^\\s<>]+)$" },
        "MediaSessionInformation": { "type": "object", "properties": {
            "mediaSessionId": string, "originatorAddress": string, "originatorName": string,
            "receiverAddress": string, "receiverName": string,
            "status": { "type": "string", "enum": ["Initial", "InProgress", "Ringing", "Proceeding",
                "Connected", "Hold", "Resume", "Terminated", "SessionCancelled", "Declined",
                "Failed", "Waiting", "NoAnswer", "NotReachable", "Busy"] },
            "offer": sdp, "answer": sdp, "clientCorrelator": string } },
        "DtmfRequest": { "type": "object", "required": ["digits"], "additionalProperties": false, "properties": {
            "digits": { "type": "string", "pattern": "^[0-9*#A-D]{1,32}$" },
            "durationMs": { "type": "integer", "minimum": 40, "maximum": 2000, "default": 100 } } },
        "StatusUpdate": { "type": "object", "required": ["status"], "properties": {
            "status": { "type": "string", "enum": ["InProgress", "Ringing", "Connected", "Hold", "Resume"] },
            "answer": sdp, "offer": sdp } },
        "ChannelRequest": { "type": "object", "required": ["channelType"], "properties": {
            "channelType": { "type": "string", "enum": ["WebSockets"] } } },
        "NotificationChannel": { "type": "object", "properties": { "channelId": string,
            "channelType": { "type": "string", "enum": ["WebSockets"] },
            "channelData": { "type": "object", "properties": {
                "channelURL": { "type": "string", "format": "uri" } } } } },
        "SubscriptionRequest": { "type": "object", "required": ["protocol", "sink", "types"], "properties": {
            "protocol": { "type": "string", "enum": ["HTTP"] },
            "sink": { "type": "string", "format": "uri" },
            "sinkCredential": { "type": "object", "properties": {
                "credentialType": { "type": "string", "enum": ["ACCESSTOKEN"] },
                "accessToken": string, "accessTokenType": { "type": "string", "enum": ["bearer"] } } },
            "types": { "type": "array", "minItems": 1, "items": string },
            "config": { "type": "object", "properties": {
                "subscriptionDetail": { "type": "object", "properties": { "deviceId": string } },
                "subscriptionExpireTime": { "type": "string", "format": "date-time" },
                "subscriptionMaxEvents": { "type": "integer", "minimum": 1 } } } } },
        "Subscription": { "type": "object", "properties": { "id": string, "protocol": string,
            "sink": string, "types": { "type": "array", "items": string }, "config": { "type": "object" },
            "startsAt": { "type": "string", "format": "date-time" },
            "expiresAt": { "type": "string", "format": "date-time" },
            "status": { "type": "string", "enum": ["ACTIVE"] } } },
        "SubscriptionList": { "type": "array", "items": schema("Subscription") },
        "CloudEvent": { "type": "object", "required": ["id", "source", "type", "specversion"], "properties": {
            "id": string, "source": string, "type": string,
            "specversion": { "type": "string", "enum": ["1.0"] },
            "datacontenttype": string, "time": { "type": "string", "format": "date-time" },
            "data": { "type": "object" }, "channelseq": { "type": "integer" } } },
    })
}

/// The OpenAPI 3.0 document.
pub(crate) fn document() -> Value {
    const AUTH: &[u16] = &[400, 401, 403, 404, 429, 503];
    let reg = "/webrtc-registration/v0.3/sessions";
    let call = "/webrtc-call-handling/v0.3/sessions";
    let chan = "/notificationchannel/v0.1/{deviceId}/channels";
    let subs = "/webrtc-events/v0.2/subscriptions";
    let mut paths = Map::new();
    let mut add = |path: String, ops: Value| {
        paths.insert(path, ops);
    };
    add(
        "/openapi.json".into(),
        json!({ "get": { "summary": "This document", "security": [],
        "responses": { "200": { "description": "OpenAPI 3.0 document" } } } }),
    );
    let mut dev = op(
        "Issue a dev token (loopback APIs only)",
        &[],
        Some("DevTokenRequest"),
        (200, "The token", Some("DevToken")),
        &[400, 404, 429],
    );
    dev["security"] = json!([]);
    add("/dev/token".into(), json!({ "post": dev }));
    add(
        reg.into(),
        json!({
            "post": op("Register a device for the token's number", &[], Some("RegistrationRequest"),
                (200, "Registered", Some("RegistrationInformation")), &[400, 401, 403, 409, 429, 503]),
            "get": op("The caller's registrations (?deviceId=)", &[], None,
                (200, "Registrations", Some("RegistrationList")), AUTH),
        }),
    );
    add(
        format!("{reg}/{{registrationId}}"),
        json!({
            "get": op("A registration", &["registrationId"], None,
                (200, "The registration", Some("RegistrationInformation")), AUTH),
            "put": op("Refresh a registration (one hour from receipt)", &["registrationId"], None,
                (200, "Refreshed", Some("RegistrationInformation")), AUTH),
            "delete": op("End a registration", &["registrationId"], None, (204, "Ended", None), AUTH),
        }),
    );
    let mut create = op(
        "Place a call (header registrationId)",
        &[],
        Some("MediaSessionRequest"),
        (
            201,
            "Created, status Initial",
            Some("MediaSessionInformation"),
        ),
        &[400, 401, 403, 404, 409, 429, 503],
    );
    if let Some(p) = create["parameters"].as_array_mut() {
        p.push(
            json!({ "name": "registrationId", "in": "header", "required": true,
            "schema": { "type": "string" } }),
        );
    }
    create["responses"]["200"] = json!({ "description": "The session an earlier request with the same clientCorrelator created",
        "content": { "application/json": { "schema": schema("MediaSessionInformation") } } });
    add(call.into(), json!({ "post": create }));
    add(
        format!("{call}/{{mediaSessionId}}"),
        json!({
            "get": op("A media session", &["mediaSessionId"], None,
                (200, "The session", Some("MediaSessionInformation")), AUTH),
            "delete": op("Cancel, decline or end a session", &["mediaSessionId"], None,
                (204, "Ended", None), AUTH),
        }),
    );
    add(
        format!("{call}/{{mediaSessionId}}/status"),
        json!({
            "put": op("Progress, ring, answer, hold or resume", &["mediaSessionId"], Some("StatusUpdate"),
                (200, "The session after the change", Some("MediaSessionInformation")),
                &[400, 401, 403, 404, 409, 429, 503]),
        }),
    );
    add(
        format!("{call}/{{mediaSessionId}}/dtmf"),
        json!({
            "post": op("Send DTMF toward IMS (RFC 4733; a gateway extension)", &["mediaSessionId"], Some("DtmfRequest"),
                (204, "Queued in the media plane", None),
                &[400, 401, 403, 404, 409, 429, 503]),
        }),
    );
    add(
        chan.into(),
        json!({
            "post": op("Open a WebSocket notification channel", &["deviceId"], Some("ChannelRequest"),
                (201, "Opened", Some("NotificationChannel")), AUTH),
        }),
    );
    let mut connect = op(
        "Connect (WebSocket upgrade; ?access_token=, ?last_seq=): CloudEvent text frames",
        &["deviceId", "channelId"],
        None,
        (101, "Switching Protocols", None),
        AUTH,
    );
    if let Some(p) = connect["parameters"].as_array_mut() {
        for (name, kind) in [("access_token", "string"), ("last_seq", "integer")] {
            p.push(json!({ "name": name, "in": "query", "schema": { "type": kind } }));
        }
    }
    add(
        format!("{chan}/{{channelId}}"),
        json!({
            "get": connect,
            "delete": op("Close a channel", &["deviceId", "channelId"], None, (204, "Closed", None), AUTH),
        }),
    );
    add(
        subs.into(),
        json!({
            "post": op("Subscribe an HTTP sink to CloudEvents", &[], Some("SubscriptionRequest"),
                (201, "Subscribed", Some("Subscription")), AUTH),
            "get": op("The caller's subscriptions", &[], None,
                (200, "Subscriptions", Some("SubscriptionList")), AUTH),
        }),
    );
    add(
        format!("{subs}/{{subscriptionId}}"),
        json!({
            "get": op("A subscription", &["subscriptionId"], None,
                (200, "The subscription", Some("Subscription")), AUTH),
            "delete": op("End a subscription", &["subscriptionId"], None, (204, "Ended", None), AUTH),
        }),
    );
    json!({
        "openapi": "3.0.3",
        "info": { "title": "rtcgate JSON API", "version": env!("CARGO_PKG_VERSION"),
            "description": "CAMARA-style WebRTC registration, call handling and events, the WebSocket notification channel. Errors are CAMARA ErrorInfo; x-correlator is echoed." },
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "parameters": { "XCorrelator": { "name": "x-correlator", "in": "header",
                "schema": { "type": "string", "maxLength": 256 } } },
            "schemas": schemas(),
        },
    })
}

/// `GET /openapi.json` (no token needed).
pub(crate) async fn serve() -> Response {
    Json(document()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        for piece in text.split("\"#/components/").skip(1) {
            let Some((kind_name, _)) = piece.split_once('"') else {
                panic!("unterminated $ref");
            };
            let pointer = format!("/components/{kind_name}");
            assert!(doc.pointer(&pointer).is_some(), "dangling $ref {pointer}");
        }
    }
}
