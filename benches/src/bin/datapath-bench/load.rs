//! The load side: the paced SRTP generator and the sink.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media_plane::datapath::backend::bare::{LoadReceiver, LoadSender};
use media_plane::srtp::SrtpContext;

use crate::host::{threads, tid_cpu_ns};
use crate::{bind, ctx, local, Result, KEY_IN, PAYLOAD, QUIET, SINK_NAP, TICK};

/// One target's flows as the generator sends them.
pub(crate) struct Flows {
    /// Source IP of each flow (one generator socket, IP_PKTINFO).
    pub(crate) src: Vec<Ipv4Addr>,
    /// Ingress (web port) of each flow.
    pub(crate) dst: Vec<SocketAddr>,
    pub(crate) seq: Vec<u16>,
    pub(crate) ssrc_base: u32,
    /// One context per flow (a context tracks a few SSRCs, not thousands).
    pub(crate) srtp: Vec<SrtpContext>,
    pub(crate) next: usize,
}

impl Flows {
    /// `n` flows from 127.`net`.x.y, spread round robin over `ingress`.
    pub(crate) fn new(n: usize, net: u8, ingress: &[SocketAddr], ssrc_base: u32) -> Result<Self> {
        Ok(Self {
            src: (0..n)
                .map(|i| Ipv4Addr::new(127, net, (i / 250) as u8, (i % 250 + 1) as u8))
                .collect(),
            dst: (0..n).map(|i| ingress[i % ingress.len()]).collect(),
            seq: vec![0; n],
            ssrc_base,
            srtp: (0..n).map(|_| ctx(KEY_IN)).collect::<Result<_>>()?,
            next: 0,
        })
    }

    pub(crate) fn source(&self, i: usize, port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(self.src[i]), port)
    }
}

pub(crate) struct Generator {
    pub(crate) sender: LoadSender,
    pub(crate) port: u16,
    pub(crate) bufs: Vec<[u8; 256]>,
    /// Per buffer of the batch: length and flow.
    pub(crate) meta: Vec<(usize, usize)>,
    pub(crate) epoch: Instant,
}

impl Generator {
    pub(crate) fn new(epoch: Instant, batch: usize) -> Result<Self> {
        let sock = bind("0.0.0.0")?;
        let port = local(&sock)?.port();
        Ok(Self {
            sender: LoadSender::new(sock, batch).map_err(|e| format!("{e}"))?,
            port,
            bufs: vec![[0u8; 256]; batch],
            meta: vec![(0, 0); batch],
            epoch,
        })
    }

    /// Builds and sends the next `n` (≤ batch) packets of `f`, stamped with the send
    /// time (ns since the epoch) in the first payload bytes. Returns how many left.
    pub(crate) fn burst(&mut self, f: &mut Flows, n: usize) -> usize {
        let n = n.min(self.bufs.len());
        let stamp = self.epoch.elapsed().as_nanos() as u64;
        for k in 0..n {
            let i = f.next;
            f.next = (f.next + 1) % f.src.len();
            let b = &mut self.bufs[k];
            b[..12].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            b[2..4].copy_from_slice(&f.seq[i].to_be_bytes());
            b[8..12].copy_from_slice(&(f.ssrc_base + i as u32).to_be_bytes());
            b[12..20].copy_from_slice(&stamp.to_be_bytes());
            b[20..12 + PAYLOAD].fill(0x55);
            f.seq[i] = f.seq[i].wrapping_add(1);
            let len = f.srtp[i].protect_rtp(b, 12 + PAYLOAD).unwrap_or(0);
            self.meta[k] = (len, i);
        }
        let dgrams: Vec<(&[u8], SocketAddr, Option<Ipv4Addr>)> = self.meta[..n]
            .iter()
            .zip(&self.bufs)
            .map(|(&(len, i), b)| (&b[..len], f.dst[i], Some(f.src[i])))
            .collect();
        self.sender.send(&dgrams)
    }

    /// Offers `pps` for `dur`, in batches every [`TICK`] or so (however late a sleep
    /// ends, the batch catches up with the schedule). Returns (sent, elapsed, limited):
    /// `limited` when fewer than 97 % of the asked packets went out.
    pub(crate) fn paced(
        &mut self,
        f: &mut Flows,
        pps: f64,
        dur: Duration,
    ) -> (u64, Duration, bool) {
        let start = Instant::now();
        let mut sent = 0u64;
        loop {
            let elapsed = start.elapsed();
            if elapsed >= dur {
                break;
            }
            let due = (pps * elapsed.as_secs_f64()) as u64;
            while sent < due {
                let want = (due - sent).min(self.bufs.len() as u64) as usize;
                let k = self.burst(f, want);
                sent += k as u64;
                if k < want {
                    break; // the kernel refused some: do not spin on it
                }
            }
            std::thread::sleep(TICK);
        }
        let elapsed = start.elapsed();
        let limited = (sent as f64) < 0.97 * pps * elapsed.as_secs_f64();
        (sent, elapsed, limited)
    }
}

// ---------------------------------------------------------------------------------------
// Sink
// ---------------------------------------------------------------------------------------

pub(crate) struct SinkTrial {
    /// Decrypt and time every packet: the context of SSRC `base + i` is `i`.
    pub(crate) record: Option<(u32, Vec<SrtpContext>)>,
    /// Window end + grace, ns since the epoch (`u64::MAX` while the window runs).
    pub(crate) on_time_until: Arc<AtomicU64>,
    pub(crate) reply: Sender<SinkResult>,
}

pub(crate) struct SinkResult {
    pub(crate) on_time: u64,
    pub(crate) late: u64,
    pub(crate) latencies_ns: Vec<u64>,
    pub(crate) cpu_ns: u64,
}

/// The sink thread: counts (and in latency trials decrypts and times) what arrives.
pub(crate) fn start_sink(
    sock: UdpSocket,
    epoch: Instant,
    batch: usize,
) -> Result<Sender<SinkTrial>> {
    let (tx, trials): (Sender<SinkTrial>, Receiver<SinkTrial>) = channel();
    std::thread::Builder::new()
        .name("dp-sink".into())
        .spawn(move || {
            // Built here: the batch's kernel descriptors are not `Send`.
            let mut rx = match LoadReceiver::new(sock, batch) {
                Ok(rx) => rx,
                Err(e) => return eprintln!("datapath-bench: sink: {e}"),
            };
            let tid = threads()
                .into_iter()
                .find(|(_, n)| n == "dp-sink")
                .map_or(0, |t| t.0);
            for mut t in trials {
                let cpu0 = tid_cpu_ns(tid);
                let (mut on_time, mut late) = (0u64, 0u64);
                let mut lat = Vec::with_capacity(if t.record.is_some() { 1 << 21 } else { 0 });
                let mut quiet_since: Option<Instant> = None;
                loop {
                    let until = t.on_time_until.load(Ordering::Acquire);
                    let f = |buf: &mut [u8], len: usize| {
                        let now = epoch.elapsed().as_nanos() as u64;
                        if now <= until {
                            on_time += 1;
                        } else {
                            late += 1;
                        }
                        let Some((base, ctxs)) = t.record.as_mut() else {
                            return;
                        };
                        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
                        let i = ssrc.wrapping_sub(*base) as usize;
                        let Some(c) = ctxs.get_mut(i) else { return };
                        let Ok(n) = c.unprotect_rtp(buf, len) else {
                            return;
                        };
                        if n >= 20 && lat.len() < lat.capacity() {
                            let mut s = [0u8; 8];
                            s.copy_from_slice(&buf[12..20]);
                            lat.push(now.saturating_sub(u64::from_be_bytes(s)));
                        }
                    };
                    let r = rx.try_recv(f);
                    match r {
                        Ok(k) if k > 0 => quiet_since = None,
                        _ if until == u64::MAX => std::thread::sleep(SINK_NAP),
                        _ => {
                            std::thread::sleep(SINK_NAP);
                            let q = *quiet_since.get_or_insert_with(Instant::now);
                            if q.elapsed() >= QUIET {
                                break;
                            }
                        }
                    }
                }
                let _ = t.reply.send(SinkResult {
                    on_time,
                    late,
                    latencies_ns: lat,
                    cpu_ns: tid_cpu_ns(tid).saturating_sub(cpu0),
                });
            }
        })
        .map_err(|e| format!("spawn sink: {e}"))?;
    Ok(tx)
}
