//! The call-handling routes over the real sip-proxy call core behind the real transport:
//! a call placed, ringing, answered and hung up against a scripted IMS peer, and every
//! error path of the routes.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use interworking_stub::{router, router_with_calls, CallLink};
use serde_json::json;
use sip_proxy::message::Method as SipMethod;

#[tokio::test]
async fn an_outgoing_call_rings_connects_and_hangs_up() {
    let h = Harness::start().await;
    let alice = token(&h.app, "+15550001").await;
    let reg = register(&h.app, &alice, "phone-1").await;
    let (status, created) = create(&h.app, &alice, &reg, "tel:+15550001", "tel:+15550100").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "Initial");
    assert_eq!(created["originatorAddress"], "tel:+15550001");
    assert_eq!(created["receiverAddress"], "tel:+15550100");
    assert_eq!(created["offer"]["sdp"], OFFER);
    assert!(created.get("answer").is_none());
    let id = created["mediaSessionId"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "16 random bytes");

    let mut ims = h.accept().await;
    let invite = ims.request().await;
    assert_eq!(invite.method, SipMethod::Invite);
    assert!(
        !String::from_utf8_lossy(&invite.to_bytes()).contains(&id),
        "topology hiding: the mediaSessionId never reaches SIP"
    );
    ims.respond(&invite, 180, false).await;
    wait_status(&h.app, &alice, &id, "Ringing").await;

    ims.respond(&invite, 200, true).await;
    let connected = wait_status(&h.app, &alice, &id, "Connected").await;
    let answer = connected["answer"]["sdp"].as_str().unwrap();
    assert!(answer.contains("UDP/TLS/RTP/SAVPF"), "{answer}");
    assert_eq!(ims.request().await.method, SipMethod::Ack);

    let (status, _) = delete(&h.app, &format!("{CALLS}/{id}"), Some(&alice)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let bye = ims.request().await;
    assert_eq!(bye.method, SipMethod::Bye);
    ims.respond(&bye, 200, false).await;
    let ended = wait_status(&h.app, &alice, &id, "Terminated").await;
    assert_eq!(ended["answer"]["sdp"], answer, "the answer stays readable");

    // A session that ended can no longer change; deleting it forgets it.
    let (status, body) = call(
        &h.app,
        Method::PUT,
        &format!("{CALLS}/{id}/status"),
        Some(&alice),
        &[],
        Some(json!({ "status": "Hold" })),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, Some("CONFLICT"))
    );
    let (status, _) = delete(&h.app, &format!("{CALLS}/{id}"), Some(&alice)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = get(&h.app, &format!("{CALLS}/{id}"), Some(&alice)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cancelling_before_answer_ends_the_session_as_cancelled() {
    let h = Harness::start().await;
    let alice = token(&h.app, "+15550001").await;
    let reg = register(&h.app, &alice, "phone-1").await;
    let (_, created) = create(
        &h.app,
        &alice,
        &reg,
        "sip:+15550001@ims.example.net",
        "sip:bob@example.com",
    )
    .await;
    let id = created["mediaSessionId"].as_str().unwrap().to_owned();
    let mut ims = h.accept().await;
    let invite = ims.request().await;
    ims.respond(&invite, 180, false).await;
    wait_status(&h.app, &alice, &id, "Ringing").await;

    let (status, _) = delete(&h.app, &format!("{CALLS}/{id}"), Some(&alice)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let cancel = ims.request().await;
    assert_eq!(cancel.method, SipMethod::Cancel);
    ims.respond(&cancel, 200, false).await;
    ims.respond(&invite, 487, false).await;
    wait_status(&h.app, &alice, &id, "SessionCancelled").await;
}

#[tokio::test]
async fn a_client_correlator_makes_create_idempotent() {
    let h = Harness::start().await;
    let alice = token(&h.app, "+15550001").await;
    let reg = register(&h.app, &alice, "phone-1").await;
    let mut body = new_session("tel:+15550001", "tel:+15550100");
    body["clientCorrelator"] = json!("c-1");
    let post = |body: serde_json::Value| {
        let (app, alice, reg) = (h.app.clone(), alice.clone(), reg.clone());
        async move {
            call(
                &app,
                Method::POST,
                CALLS,
                Some(&alice),
                &[("registrationId", &reg)],
                Some(body),
            )
            .await
        }
    };
    let (first, a) = post(body.clone()).await;
    let (again, b) = post(body.clone()).await;
    assert_eq!((first, again), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(a["mediaSessionId"], b["mediaSessionId"]);
    assert_eq!(b["clientCorrelator"], "c-1");
    body["clientCorrelator"] = json!("c-2");
    let (other, c) = post(body).await;
    assert_eq!(other, StatusCode::CREATED);
    assert_ne!(a["mediaSessionId"], c["mediaSessionId"]);
}

/// token, registrationId header, body, expected status and code.
type Case<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    serde_json::Value,
    StatusCode,
    &'a str,
);

#[tokio::test]
async fn create_refuses_what_it_cannot_place() {
    let h = Harness::start().await;
    let alice = token(&h.app, "+15550001").await;
    let bob = token(&h.app, "+15550002").await;
    let reg = register(&h.app, &alice, "phone-1").await;
    let bobs_reg = register(&h.app, &bob, "phone-2").await;
    let good = new_session("tel:+15550001", "tel:+15550100");
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let huge_sdp = format!("{OFFER}{}", "a=x\r\n".repeat(14_000));
    assert!(huge_sdp.len() > 64 * 1024 && huge_sdp.len() < 200 * 1024);
    let cases: Vec<Case> = vec![
        (
            None,
            Some(&reg),
            good.clone(),
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
        ),
        (
            Some(&alice),
            None,
            good.clone(),
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
        ),
        (
            Some(&alice),
            Some("nope"),
            good.clone(),
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
        (
            Some(&alice),
            Some(&bobs_reg),
            good.clone(),
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
        ),
        (
            Some(&alice),
            Some(&reg),
            with(&|b| b["originatorAddress"] = json!("tel:+15550002")),
            StatusCode::FORBIDDEN,
            "INVALID_TOKEN_CONTEXT",
        ),
        (
            Some(&alice),
            Some(&reg),
            with(&|b| b["originatorAddress"] = json!("sip:alice@example.com")),
            StatusCode::FORBIDDEN,
            "INVALID_TOKEN_CONTEXT",
        ),
        (
            Some(&alice),
            Some(&reg),
            with(&|b| b["receiverAddress"] = json!("+15550100")),
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
        ),
        (
            Some(&alice),
            Some(&reg),
            with(&|b| b["receiverAddress"] = json!("sip:nobody")),
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
        ),
        (
            Some(&alice),
            Some(&reg),
            with(&|b| {
                b.as_object_mut().unwrap().remove("offer");
            }),
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
        ),
        (
            Some(&alice),
            Some(&reg),
            with(&|b| b["offer"]["sdp"] = json!("")),
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
        ),
        (
            Some(&alice),
            Some(&reg),
            with(&|b| b["offer"]["sdp"] = json!(huge_sdp)),
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
        ),
        (
            Some(&alice),
            Some(&reg),
            with(&|b| b["originatorName"] = json!("x".repeat(300))),
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
        ),
        // The call core refuses an offer that is not SDP.
        (
            Some(&alice),
            Some(&reg),
            with(&|b| b["offer"]["sdp"] = json!("hello")),
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
        ),
    ];
    for (token, reg, body, status, want) in cases {
        let headers: Vec<(&str, &str)> = reg.map(|r| ("registrationId", r)).into_iter().collect();
        let (got, answer) = call(
            &h.app,
            Method::POST,
            CALLS,
            token,
            &headers,
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (got, code(&answer)),
            (status, Some(want)),
            "{answer} for {}",
            &body.to_string()[..120.min(body.to_string().len())]
        );
    }
}

#[tokio::test]
async fn sessions_are_their_owners_alone_and_unknown_ids_are_404() {
    let h = Harness::start().await;
    let alice = token(&h.app, "+15550001").await;
    let bob = token(&h.app, "+15550002").await;
    let reg = register(&h.app, &alice, "phone-1").await;
    let (_, created) = create(&h.app, &alice, &reg, "tel:+15550001", "tel:+15550100").await;
    let id = created["mediaSessionId"].as_str().unwrap().to_owned();
    let status_body = Some(json!({ "status": "Ringing" }));
    for (method, path, body) in [
        (Method::GET, format!("{CALLS}/{id}"), None),
        (
            Method::PUT,
            format!("{CALLS}/{id}/status"),
            status_body.clone(),
        ),
        (Method::DELETE, format!("{CALLS}/{id}"), None),
    ] {
        let (status, answer) =
            call(&h.app, method.clone(), &path, Some(&bob), &[], body.clone()).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::FORBIDDEN, Some("PERMISSION_DENIED")),
            "{method}"
        );
        let unknown = path.replace(&id, "0123");
        let (status, answer) =
            call(&h.app, method.clone(), &unknown, Some(&alice), &[], body).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::NOT_FOUND, Some("NOT_FOUND")),
            "{method}"
        );
        let (status, _) = call(&h.app, method.clone(), &path, None, &[], None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method}");
    }
}

#[tokio::test]
async fn status_updates_are_checked_against_the_body_and_the_call() {
    let h = Harness::start().await;
    let alice = token(&h.app, "+15550001").await;
    let reg = register(&h.app, &alice, "phone-1").await;
    let (_, created) = create(&h.app, &alice, &reg, "tel:+15550001", "tel:+15550100").await;
    let id = created["mediaSessionId"].as_str().unwrap().to_owned();
    let path = format!("{CALLS}/{id}/status");
    let huge = "v=0\r\n".repeat(14_000);
    for (body, status, want) in [
        (
            json!({ "status": "Terminated" }),
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
        ),
        (
            json!({ "status": "Connected" }),
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
        ),
        (
            json!({ "status": "Connected", "answer": { "sdp": huge } }),
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
        ),
        (
            json!({ "answer": { "sdp": "v=0" } }),
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
        ),
        // The caller cannot ring its own outgoing call, nor hold it before it connects.
        (
            json!({ "status": "Ringing" }),
            StatusCode::CONFLICT,
            "CONFLICT",
        ),
        (
            json!({ "status": "InProgress" }),
            StatusCode::CONFLICT,
            "CONFLICT",
        ),
        (
            json!({ "status": "Hold" }),
            StatusCode::CONFLICT,
            "CONFLICT",
        ),
        (
            json!({ "status": "Connected", "answer": { "sdp": OFFER } }),
            StatusCode::CONFLICT,
            "CONFLICT",
        ),
    ] {
        let (got, answer) = call(
            &h.app,
            Method::PUT,
            &path,
            Some(&alice),
            &[],
            Some(body.clone()),
        )
        .await;
        assert_eq!((got, code(&answer)), (status, Some(want)), "{body}");
    }
}

#[tokio::test]
async fn without_a_running_call_core_calls_are_unavailable() {
    // No call link at all.
    let app = router(options());
    let alice = token(&app, "+15550001").await;
    let reg = register(&app, &alice, "phone-1").await;
    let (status, body) = create(&app, &alice, &reg, "tel:+15550001", "tel:+15550100").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, Some("UNAVAILABLE"))
    );

    // A link whose call core has stopped.
    let (commands, gone) = tokio::sync::mpsc::channel(4);
    let (_events_tx, events) = tokio::sync::mpsc::channel(4);
    drop(gone);
    let app = router_with_calls(options(), CallLink::start(commands, events));
    let alice = token(&app, "+15550001").await;
    let reg = register(&app, &alice, "phone-1").await;
    let (status, body) = create(&app, &alice, &reg, "tel:+15550001", "tel:+15550100").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, Some("UNAVAILABLE"))
    );
}

/// `POST …/dtmf`: refused before the call connects (409) and for bad digits, durations
/// or fields (400); accepted (204) in a connected call, where the call core hands each
/// digit to the media plane; 403 for someone else's session, 404 for an unknown one.
#[tokio::test]
async fn dtmf_goes_to_a_connected_call_only() {
    let h = Harness::start().await;
    let alice = token(&h.app, "+15550001").await;
    let reg = register(&h.app, &alice, "phone-1").await;
    let (_, created) = create(&h.app, &alice, &reg, "tel:+15550001", "tel:+15550100").await;
    let id = created["mediaSessionId"].as_str().unwrap().to_owned();
    let path = format!("{CALLS}/{id}/dtmf");
    let post = |body: serde_json::Value, who: String, path: String| {
        let app = h.app.clone();
        async move { call(&app, Method::POST, &path, Some(&who), &[], Some(body)).await }
    };
    let (status, body) = post(json!({ "digits": "1" }), alice.clone(), path.clone()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, Some("CONFLICT")),
        "not connected"
    );

    let mut ims = h.accept().await;
    let invite = ims.request().await;
    ims.respond(&invite, 200, true).await;
    wait_status(&h.app, &alice, &id, "Connected").await;
    assert_eq!(ims.request().await.method, SipMethod::Ack);

    for bad in [
        json!({ "digits": "12x" }),
        json!({ "digits": "" }),
        json!({ "digits": "1".repeat(33) }),
        json!({ "digits": "1", "durationMs": 10 }),
        json!({ "digits": "1", "durationMs": 5000 }),
        json!({ "digits": "1", "tone": "loud" }),
        json!({ "durationMs": 100 }),
    ] {
        let (status, body) = post(bad.clone(), alice.clone(), path.clone()).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT")),
            "{bad}"
        );
    }
    let (status, body) = post(
        json!({ "digits": "123#", "durationMs": 80 }),
        alice.clone(),
        path.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = post(json!({ "digits": "*" }), alice.clone(), path.clone()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "default duration");

    let bob = token(&h.app, "+15550002").await;
    let (status, body) = post(json!({ "digits": "1" }), bob, path.clone()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, Some("PERMISSION_DENIED")),
        "not bob's session"
    );
    let (status, _) = post(
        json!({ "digits": "1" }),
        alice.clone(),
        format!("{CALLS}/nope/dtmf"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
