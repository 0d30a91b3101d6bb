//! The tokio driver: sockets in, [`Endpoint`] in the middle, sockets out.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};

use super::metrics;
use super::stream::{Frame, StreamFramer};
use crate::endpoint::{Endpoint, EndpointConfig, TransactionUser};
use crate::transaction::{Target, Transmit, Transport};

/// Messages queued from connection readers to the endpoint task.
const INBOUND_QUEUE: usize = 1024;
/// Messages queued per connection toward its writer.
const OUTBOUND_QUEUE: usize = 64;

/// Listener settings (the `[sip]` config section).
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// UDP listen address.
    pub udp: Option<SocketAddr>,
    /// TCP listen address.
    pub tcp: Option<SocketAddr>,
    /// TLS listen address and server configuration.
    pub tls: Option<TlsListener>,
    /// How outbound TLS connections verify the next hop; `None` refuses TLS targets.
    pub tls_client: Option<TlsClient>,
    /// The largest message accepted on any transport.
    pub max_message_bytes: usize,
    /// Open TCP connections accepted at once; more are closed at accept.
    pub max_tcp_connections: usize,
    /// A TCP connection that sends nothing for this long is closed.
    pub tcp_idle_timeout: Duration,
    /// The endpoint behind the listeners.
    pub endpoint: EndpointConfig,
}

/// A TLS listener: where, and with which certificate.
#[derive(Debug, Clone)]
pub struct TlsListener {
    /// Listen address.
    pub listen: SocketAddr,
    /// The server configuration (see [`super::tls::server_config`]).
    pub config: Arc<rustls::ServerConfig>,
}

/// Commands queued toward the endpoint's user, and its events queued out.
const USER_QUEUE: usize = 4096;

/// The typed channels to and from the [`TransactionUser`] behind a listener.
#[derive(Debug)]
pub struct UserChannels<U: TransactionUser> {
    /// Commands for the user (bounded: a full queue is the caller's back-pressure).
    pub commands: mpsc::Sender<U::Command>,
    /// The user's events, in order.
    pub events: mpsc::Receiver<U::Event>,
}

/// Outbound TLS toward the next hop (RFC 3261 §26.3.1, RFC 5922 §7.2): the server's
/// certificate is checked against `server_name` (the next hop's domain from the config,
/// not the address DNS returned).
#[derive(Debug, Clone)]
pub struct TlsClient {
    /// Roots, client certificate and verification settings.
    pub config: Arc<rustls::ClientConfig>,
    /// The name the next hop's certificate must carry.
    pub server_name: String,
}

/// Seconds a TLS client gets to finish its handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The bound addresses (useful with port 0).
#[derive(Debug, Clone, Copy)]
pub struct SipListeners {
    /// Where UDP listens.
    pub udp: Option<SocketAddr>,
    /// Where TCP listens.
    pub tcp: Option<SocketAddr>,
    /// Where TLS listens.
    pub tls: Option<SocketAddr>,
}

enum Inbound {
    Message {
        target: Target,
        bytes: Vec<u8>,
    },
    Opened {
        peer: SocketAddr,
        tx: mpsc::Sender<Vec<u8>>,
    },
    Closed {
        peer: SocketAddr,
    },
    /// An outbound connection could not be opened.
    ConnectFailed {
        peer: SocketAddr,
    },
}

/// Binds the listeners and starts serving, with the user `make_user` builds (the call
/// core, the lab IMS) behind the endpoint. Returns once every socket is bound; binding errors are returned,
/// nothing is left half-started.
pub async fn start<U: TransactionUser + 'static>(
    cfg: TransportConfig,
    draining: watch::Receiver<bool>,
    seed: u64,
    make_user: impl FnOnce(&SipListeners) -> U,
) -> io::Result<(SipListeners, UserChannels<U>)> {
    metrics::init();
    let udp = match cfg.udp {
        Some(addr) => Some(Arc::new(UdpSocket::bind(addr).await?)),
        None => None,
    };
    let tcp = match cfg.tcp {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    let tls = match &cfg.tls {
        Some(t) => Some((
            TcpListener::bind(t.listen).await?,
            tokio_rustls::TlsAcceptor::from(t.config.clone()),
        )),
        None => None,
    };
    let listeners = SipListeners {
        udp: udp.as_ref().map(|s| s.local_addr()).transpose()?,
        tcp: tcp.as_ref().map(TcpListener::local_addr).transpose()?,
        tls: tls.as_ref().map(|(l, _)| l.local_addr()).transpose()?,
    };
    let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
    // One connection limit shared by TCP and TLS.
    let open = Arc::new(AtomicUsize::new(0));
    if let Some(listener) = tcp {
        tokio::spawn(accept_loop(
            listener,
            None,
            inbound_tx.clone(),
            cfg.clone(),
            open.clone(),
        ));
    }
    if let Some((listener, acceptor)) = tls {
        tokio::spawn(accept_loop(
            listener,
            Some(acceptor),
            inbound_tx.clone(),
            cfg.clone(),
            open,
        ));
    }
    // The user is built once the sockets are bound, so it can write their addresses.
    let endpoint = Endpoint::new(cfg.endpoint.clone(), seed).with_user(make_user(&listeners));
    let (commands_tx, commands_rx) = mpsc::channel(USER_QUEUE);
    let (events_tx, events_rx) = mpsc::channel(USER_QUEUE);
    let user_io = UserIo {
        commands: commands_rx,
        events: events_tx,
    };
    // The task holds a sender itself, so it serves UDP even with no TCP listener.
    tokio::spawn(endpoint_task(
        endpoint,
        udp,
        inbound_tx,
        inbound_rx,
        user_io,
        draining,
        cfg.clone(),
    ));
    Ok((
        listeners,
        UserChannels {
            commands: commands_tx,
            events: events_rx,
        },
    ))
}

/// The endpoint task's ends of the user channels.
struct UserIo<U: TransactionUser> {
    commands: mpsc::Receiver<U::Command>,
    events: mpsc::Sender<U::Event>,
}

async fn recv_udp(sock: Option<&UdpSocket>, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    match sock {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

/// Owns the endpoint: read, handle, drain `poll_*`, sleep until the next timer.
async fn endpoint_task<U: TransactionUser>(
    mut ep: Endpoint<U>,
    udp: Option<Arc<UdpSocket>>,
    inbound_tx: mpsc::Sender<Inbound>,
    mut inbound: mpsc::Receiver<Inbound>,
    mut user_io: UserIo<U>,
    mut draining: watch::Receiver<bool>,
    cfg: TransportConfig,
) {
    let max_message = cfg.max_message_bytes;
    let mut conns: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
    // Messages waiting for an outbound TCP connection being opened.
    let mut pending: HashMap<SocketAddr, Vec<Transmit>> = HashMap::new();
    // One byte more than the limit, to tell an oversized datagram from a full one.
    let mut buf = vec![0u8; max_message + 1];
    ep.set_draining(*draining.borrow());
    loop {
        let mut transport = Transport::Udp;
        // The drain flag is also read as each message is handled, not only when its change
        // wins this select: a request that arrives right after a drain started is refused
        // like any later one.
        tokio::select! {
            r = recv_udp(udp.as_deref(), &mut buf) => match r {
                Ok((n, _)) if n > max_message => metrics::framing_error(Transport::Udp),
                Ok((n, src)) => {
                    ep.set_draining(*draining.borrow());
                    ep.handle_message(Instant::now(), Target { transport, addr: src }, &buf[..n]);
                }
                // ICMP errors from earlier sends surface here on Linux; the socket lives on.
                Err(e) => tracing::debug!(error = %e, "udp receive error"),
            },
            msg = inbound.recv() => match msg {
                Some(Inbound::Message { target, bytes }) => {
                    transport = target.transport;
                    ep.set_draining(*draining.borrow());
                    ep.handle_message(Instant::now(), target, &bytes);
                }
                Some(Inbound::Opened { peer, tx }) => {
                    for t in pending.remove(&peer).unwrap_or_default() {
                        if tx.try_send(t.bytes).is_err() {
                            if let Some(id) = t.transaction { ep.handle_transport_error(Instant::now(), id); }
                        }
                    }
                    conns.insert(peer, tx);
                }
                Some(Inbound::ConnectFailed { peer }) => {
                    // RFC 3261 §18.1.1: the transactions learn of the failure.
                    for t in pending.remove(&peer).unwrap_or_default() {
                        if let Some(id) = t.transaction { ep.handle_transport_error(Instant::now(), id); }
                    }
                }
                Some(Inbound::Closed { peer }) => { conns.remove(&peer); }
                None => return,
            },
            Some(command) = user_io.commands.recv() => ep.handle_command(Instant::now(), command),
            () = sleep_until(ep.poll_timeout()) => ep.handle_timeout(Instant::now()),
            Ok(()) = draining.changed() => ep.set_draining(*draining.borrow()),
        }
        while let Some(event) = ep.poll_event() {
            metrics::record(transport, &event);
        }
        while let Some(event) = ep.poll_user_event() {
            match user_io.events.try_send(event) {
                Ok(()) => {}
                // Nobody listens to this user's events (the lab): nothing to deliver.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::error!("SIP user event queue full: an event was dropped");
                }
            }
        }
        while let Some(t) = ep.poll_transmit() {
            let addr = t.target.addr;
            let stream = matches!(t.target.transport, Transport::Tcp | Transport::Tls);
            if stream && !conns.contains_key(&addr) {
                // RFC 3261 §18.1.1: open a connection to the target, send once it is up.
                let first = !pending.contains_key(&addr);
                let t_transport = t.target.transport;
                pending.entry(addr).or_default().push(t);
                if first {
                    tokio::spawn(connect_out(
                        addr,
                        t_transport,
                        inbound_tx.clone(),
                        cfg.clone(),
                    ));
                }
                continue;
            }
            let transaction = t.transaction;
            if !send(udp.as_deref(), &conns, t).await {
                if let Some(id) = transaction {
                    ep.handle_transport_error(Instant::now(), id);
                }
            }
        }
    }
}

/// Sends one message; false when the transport could not take it.
async fn send(
    udp: Option<&UdpSocket>,
    conns: &HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    t: Transmit,
) -> bool {
    match t.target.transport {
        Transport::Udp => match udp {
            Some(sock) => sock.send_to(&t.bytes, t.target.addr).await.is_ok(),
            None => false,
        },
        // Responses go back over the connection the request came on (RFC 3261 §18.2.2).
        _ => conns
            .get(&t.target.addr)
            .is_some_and(|tx| tx.try_send(t.bytes).is_ok()),
    }
}

/// How long an outbound TCP connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens an outbound TCP (or TLS over TCP) connection and serves it like an accepted one.
async fn connect_out(
    peer: SocketAddr,
    transport: Transport,
    inbound: mpsc::Sender<Inbound>,
    cfg: TransportConfig,
) {
    let failed = |why: &dyn std::fmt::Display| {
        tracing::debug!(peer = %media_plane::redact::addr(peer), error = %why, "sip outbound connection failed");
    };
    let tcp =
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(peer)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                failed(&e);
                let _ = inbound.send(Inbound::ConnectFailed { peer }).await;
                return;
            }
            Err(_) => {
                failed(&"timeout");
                let _ = inbound.send(Inbound::ConnectFailed { peer }).await;
                return;
            }
        };
    metrics::tcp_opened();
    if transport == Transport::Tls {
        match tls_connect(tcp, &cfg).await {
            Ok(stream) => connection(stream, peer, Transport::Tls, inbound, &cfg).await,
            Err(why) => {
                failed(&why);
                metrics::tcp_closed_by_us("handshake");
                let _ = inbound.send(Inbound::ConnectFailed { peer }).await;
            }
        }
    } else {
        connection(tcp, peer, Transport::Tcp, inbound, &cfg).await;
    }
    metrics::tcp_closed();
}

/// The client side of a TLS handshake, verifying the next hop's name.
async fn tls_connect(
    tcp: tokio::net::TcpStream,
    cfg: &TransportConfig,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    let client = cfg
        .tls_client
        .as_ref()
        .ok_or("no TLS client configuration")?;
    let name = rustls::pki_types::ServerName::try_from(client.server_name.clone())
        .map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(client.config.clone());
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, connector.connect(name, tcp)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("TLS handshake timeout".into()),
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    inbound: mpsc::Sender<Inbound>,
    cfg: TransportConfig,
    open: Arc<AtomicUsize>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "sip stream accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= cfg.max_tcp_connections {
            metrics::tcp_closed_by_us("limit");
            drop(stream);
            continue;
        }
        open.fetch_add(1, Ordering::Relaxed);
        metrics::tcp_opened();
        let (inbound, open, cfg, tls) = (inbound.clone(), open.clone(), cfg.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                None => connection(stream, peer, Transport::Tcp, inbound, &cfg).await,
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(stream)) => {
                            connection(stream, peer, Transport::Tls, inbound, &cfg).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, peer = %media_plane::redact::addr(peer), "sip tls handshake failed");
                            metrics::tcp_closed_by_us("handshake");
                        }
                        Err(_) => metrics::tcp_closed_by_us("handshake"),
                    }
                }
            }
            open.fetch_sub(1, Ordering::Relaxed);
            metrics::tcp_closed();
        });
    }
}

/// Reads, frames and forwards one stream connection's messages (TCP or TLS); a writer
/// task sends what the endpoint queues for it.
async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    transport: Transport,
    inbound: mpsc::Sender<Inbound>,
    cfg: &TransportConfig,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(OUTBOUND_QUEUE);
    if inbound
        .send(Inbound::Opened {
            peer,
            tx: tx.clone(),
        })
        .await
        .is_err()
    {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let target = Target {
        transport,
        addr: peer,
    };
    let mut framer = StreamFramer::new(cfg.max_message_bytes);
    let mut buf = vec![0u8; 8192];
    'read: loop {
        let n = match tokio::time::timeout(cfg.tcp_idle_timeout, rd.read(&mut buf)).await {
            Err(_) => {
                metrics::tcp_closed_by_us("idle");
                break;
            }
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => n,
        };
        framer.push(&buf[..n]);
        loop {
            match framer.next_frame() {
                Ok(Some(Frame::Message(bytes))) => {
                    if inbound
                        .send(Inbound::Message { target, bytes })
                        .await
                        .is_err()
                    {
                        break 'read;
                    }
                }
                // RFC 5626 §3.5.1: answer a CRLF CRLF ping with a CRLF pong.
                Ok(Some(Frame::Ping)) => {
                    let _ = tx.try_send(b"\r\n".to_vec());
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, peer = %media_plane::redact::addr(peer), "closing unframeable sip stream");
                    metrics::framing_error(transport);
                    metrics::tcp_closed_by_us("framing");
                    break 'read;
                }
            }
        }
    }
    let _ = inbound.send(Inbound::Closed { peer }).await;
    drop(tx);
    writer.abort();
}

/// The lab's echo RTP socket: every datagram goes back to where it came from. Returns
/// the bound address. Datagrams larger than an Ethernet MTU are dropped.
pub async fn start_echo(addr: SocketAddr) -> io::Result<SocketAddr> {
    let sock = UdpSocket::bind(addr).await?;
    let local = sock.local_addr()?;
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            match sock.recv_from(&mut buf).await {
                Ok((n, from)) => {
                    // A send failure (the peer went away) is the peer's loss only.
                    let _ = sock.send_to(&buf[..n], from).await;
                }
                Err(e) => tracing::debug!(error = %e, "echo receive error"),
            }
        }
    });
    Ok(local)
}
