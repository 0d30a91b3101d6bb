//! The gateway user behind the real transport driver: commands in over the user channel,
//! an INVITE out over an outbound TCP connection the driver opens, the IMS peer's answer
//! back on the same connection, events out over the channel.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::net::SocketAddr;
use std::time::Duration;

use sip_proxy::call::{
    CallCore, CallCoreConfig, CallEvent, CallId, CamaraStatus, Command, IdentityHeader,
};
use sip_proxy::endpoint::EndpointConfig;
use sip_proxy::gateway::{GatewayCommand, GatewayEvent, GatewayUser};
use sip_proxy::media::RecordingMedia;
use sip_proxy::message::builder::response_to;
use sip_proxy::message::{Message, Method, Request};
use sip_proxy::transaction::{Target, Transport};
use sip_proxy::transport::stream::{Frame, StreamFramer};
use sip_proxy::transport::{start, TransportConfig, UserChannels};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

const CHROME_OFFER: &str = include_str!("data/sdp/chrome_offer.sdp");
const IMS_ANSWER: &str = include_str!("data/sdp/ims_answer_sdes.sdp");

async fn gateway(next_hop: SocketAddr) -> UserChannels<GatewayUser<RecordingMedia>> {
    gateway_over(
        Target {
            transport: Transport::Tcp,
            addr: next_hop,
        },
        None,
    )
    .await
}

/// The gateway user behind the real driver, placing calls to `next_hop`.
async fn gateway_over(
    next_hop: Target,
    tls_client: Option<sip_proxy::transport::TlsClient>,
) -> UserChannels<GatewayUser<RecordingMedia>> {
    let core = CallCore::new(
        CallCoreConfig {
            next_hop,
            local_host: "127.0.0.1:5060".into(),
            domain: "ims.example.net".into(),
            identity: IdentityHeader::Asserted,
            access_network_info: None,
            session_expires: 1800,
            timers: Default::default(),
            fallback_hops: Vec::new(),
        },
        RecordingMedia::srtp(),
        21,
    );
    let cfg = TransportConfig {
        udp: Some("127.0.0.1:0".parse().unwrap()),
        tcp: None,
        tls: None,
        tls_client,
        max_message_bytes: 65_535,
        max_tcp_connections: 16,
        tcp_idle_timeout: Duration::from_secs(30),
        endpoint: EndpointConfig::default(),
    };
    // Never draining; the driver keeps the last value once the sender is gone.
    let (_, draining) = watch::channel(false);
    let (_, channels) = start(cfg, draining, 22, |_| GatewayUser::new(core, None))
        .await
        .unwrap();
    channels
}

fn originate() -> GatewayCommand {
    GatewayCommand::Call {
        id: 1,
        command: Command::Originate {
            call: CallId(9),
            from: "+15550001".into(),
            to: "+15550100".into(),
            offer: CHROME_OFFER.into(),
        },
    }
}

/// Reads one framed SIP message from the stream (at most 5 s).
async fn read_message<S: tokio::io::AsyncRead + Unpin>(
    sock: &mut S,
    framer: &mut StreamFramer,
) -> Message<'static> {
    let mut buf = [0u8; 8192];
    loop {
        if let Some(Frame::Message(bytes)) = framer.next_frame().unwrap() {
            return Message::parse(&bytes).unwrap().into_owned();
        }
        let n = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the gateway closed the connection");
        framer.push(&buf[..n]);
    }
}

async fn next_event(ch: &mut UserChannels<GatewayUser<RecordingMedia>>) -> GatewayEvent {
    tokio::time::timeout(Duration::from_secs(5), ch.events.recv())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_call_goes_out_over_a_tcp_connection_the_driver_opens() {
    let ims = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut ch = gateway(ims.local_addr().unwrap()).await;
    ch.commands.send(originate()).await.unwrap();
    assert_eq!(
        next_event(&mut ch).await,
        GatewayEvent::CallResult {
            id: 1,
            result: Ok(())
        }
    );

    let (mut sock, _) = tokio::time::timeout(Duration::from_secs(5), ims.accept())
        .await
        .unwrap()
        .unwrap();
    let mut framer = StreamFramer::new(65_535);
    let Message::Request(invite) = read_message(&mut sock, &mut framer).await else {
        panic!("a request")
    };
    assert_eq!(invite.method, Method::Invite);
    let mut ok = response_to(&invite, 200, Some(b"ims"));
    ok.add_header("Contact", "<sip:far@127.0.0.1>");
    ok.set_body("application/sdp", IMS_ANSWER.as_bytes().to_vec());
    sock.write_all(&ok.to_bytes()).await.unwrap();

    match next_event(&mut ch).await {
        GatewayEvent::Call(CallEvent::Status {
            status: CamaraStatus::Connected,
            sdp: Some(sdp),
            ..
        }) => {
            assert!(sdp.contains("UDP/TLS/RTP/SAVPF"));
        }
        other => panic!("{other:?}"),
    }
    let ack: Request<'static> = match read_message(&mut sock, &mut framer).await {
        Message::Request(r) => r,
        Message::Response(r) => panic!("{r:?}"),
    };
    assert_eq!(
        ack.method,
        Method::Ack,
        "the ACK reuses the same connection"
    );
}

#[tokio::test]
async fn a_next_hop_that_refuses_the_connection_fails_the_call() {
    // A port with nothing listening: bind, learn it, close.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mut ch = gateway(closed).await;
    ch.commands.send(originate()).await.unwrap();
    assert_eq!(
        next_event(&mut ch).await,
        GatewayEvent::CallResult {
            id: 1,
            result: Ok(())
        }
    );
    match next_event(&mut ch).await {
        GatewayEvent::Call(CallEvent::Status {
            status: CamaraStatus::Failed,
            reason,
            ..
        }) => {
            assert_eq!(reason.as_deref(), Some("IMS next hop unreachable"));
        }
        other => panic!("{other:?}"),
    }
}

/// A TLS next hop with a certificate for `ims.test`, signed by itself (the test's CA).
fn tls_next_hop(dir: &std::path::Path) -> (tokio_rustls::TlsAcceptor, std::path::PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["ims.test".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (dir.join("ims.pem"), dir.join("ims.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let server = sip_proxy::transport::tls::server_config(&cert_path, &key_path).unwrap();
    (tokio_rustls::TlsAcceptor::from(server), cert_path)
}

#[tokio::test]
async fn a_call_goes_out_over_verified_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (acceptor, ca) = tls_next_hop(dir.path());
    let ims = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = sip_proxy::transport::tls::client_config(&ca, None).unwrap();
    let client = sip_proxy::transport::TlsClient {
        config,
        server_name: "ims.test".into(),
    };
    let target = Target {
        transport: Transport::Tls,
        addr: ims.local_addr().unwrap(),
    };
    let mut ch = gateway_over(target, Some(client)).await;
    ch.commands.send(originate()).await.unwrap();
    assert_eq!(
        next_event(&mut ch).await,
        GatewayEvent::CallResult {
            id: 1,
            result: Ok(())
        }
    );

    let (tcp, _) = tokio::time::timeout(Duration::from_secs(5), ims.accept())
        .await
        .unwrap()
        .unwrap();
    let mut tls = acceptor
        .accept(tcp)
        .await
        .expect("the gateway completes the handshake");
    let mut framer = StreamFramer::new(65_535);
    let invite = read_message(&mut tls, &mut framer).await;
    let Message::Request(invite) = invite else {
        panic!("a request")
    };
    assert_eq!(invite.method, Method::Invite);
    let via = invite.headers.get_raw(b"Via").unwrap();
    assert!(
        via.value.starts_with(b"SIP/2.0/TLS "),
        "{:?}",
        String::from_utf8_lossy(&via.value)
    );
}

#[tokio::test]
async fn a_next_hop_whose_certificate_does_not_match_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (acceptor, ca) = tls_next_hop(dir.path());
    let ims = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = sip_proxy::transport::tls::client_config(&ca, None).unwrap();
    // The certificate names ims.test; the gateway expects another name.
    let client = sip_proxy::transport::TlsClient {
        config,
        server_name: "pcscf.other.test".into(),
    };
    let target = Target {
        transport: Transport::Tls,
        addr: ims.local_addr().unwrap(),
    };
    let mut ch = gateway_over(target, Some(client)).await;
    tokio::spawn(async move {
        if let Ok((tcp, _)) = ims.accept().await {
            let _ = acceptor.accept(tcp).await;
        }
    });
    ch.commands.send(originate()).await.unwrap();
    assert_eq!(
        next_event(&mut ch).await,
        GatewayEvent::CallResult {
            id: 1,
            result: Ok(())
        }
    );
    match next_event(&mut ch).await {
        GatewayEvent::Call(CallEvent::Status {
            status: CamaraStatus::Failed,
            reason,
            ..
        }) => {
            assert_eq!(reason.as_deref(), Some("IMS next hop unreachable"));
        }
        other => panic!("{other:?}"),
    }
}
