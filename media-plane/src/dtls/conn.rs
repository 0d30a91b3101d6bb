//! The datagram transport webrtc-dtls runs over: a webrtc-util [`Conn`] backed by two
//! bounded tokio channels instead of a socket.
//!
//! ```text
//!  DtlsSession::handle_datagram ──try_send──► inbound ──recv()──► webrtc-dtls reader task
//!  DtlsSession::next_output ◄──── outbound ◄──send()─────────────  webrtc-dtls writer task
//! ```
//!
//! The session's driver owns the socket; this type only moves datagrams. A full
//! outbound channel makes the DTLS task wait (back-pressure on a slow driver); a full
//! inbound channel is the session's to handle (it drops and counts, never blocks).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use async_trait::async_trait;
use tokio::sync::{mpsc, Mutex};
use webrtc_util::conn::Conn;

use super::session::DtlsOutput;

/// The address the channel pretends to have on both ends: webrtc-dtls asks, but only
/// uses it for a default server name, which the session sets itself.
const NO_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));

/// A [`Conn`] over bounded channels.
pub(crate) struct ChannelConn {
    inbound: Mutex<mpsc::Receiver<Vec<u8>>>,
    outbound: mpsc::Sender<DtlsOutput>,
}

impl ChannelConn {
    pub(crate) fn new(
        inbound: mpsc::Receiver<Vec<u8>>,
        outbound: mpsc::Sender<DtlsOutput>,
    ) -> Self {
        Self {
            inbound: Mutex::new(inbound),
            outbound,
        }
    }
}

#[async_trait]
impl Conn for ChannelConn {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Err(webrtc_util::Error::Other(
            "connect: not applicable".to_owned(),
        ))
    }

    /// Waits for the next inbound datagram. When the session has gone, this waits
    /// forever instead of failing: webrtc-dtls's reader loop retries on every error and
    /// would spin; it ends instead when its `DTLSConn` is dropped with the task.
    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        let datagram = self.inbound.lock().await.recv().await;
        let Some(datagram) = datagram else {
            return std::future::pending().await;
        };
        // The session refuses datagrams larger than the library's receive buffer, so
        // this only truncates if webrtc-dtls shrinks that buffer; a truncated record then
        // fails its length check and is discarded there.
        let n = datagram.len().min(buf.len());
        buf[..n].copy_from_slice(&datagram[..n]);
        Ok(n)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let n = self.recv(buf).await?;
        Ok((n, NO_ADDR))
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.outbound
            .send(DtlsOutput::Transmit(buf.to_vec()))
            .await
            .map_err(|_| webrtc_util::Error::Other("DTLS session closed".to_owned()))?;
        Ok(buf.len())
    }

    async fn send_to(&self, buf: &[u8], _target: SocketAddr) -> webrtc_util::Result<usize> {
        self.send(buf).await
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(NO_ADDR)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        Some(NO_ADDR)
    }

    /// Nothing to release: the channels close when the session and its task end. (Taking
    /// the inbound lock here could wait on the reader task's pending `recv`.)
    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}
