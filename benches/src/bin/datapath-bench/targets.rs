//! The targets: the engine on a backend, and the bare forwarder of that backend.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use media_plane::datapath::backend::bare::{BareForwarder, BareRoute};
use media_plane::datapath::{
    spawn, Backend, BackendConfig, BackendKind, BackendStats, Command, LegConfig, LegCrypto, PtMap,
    RunningWorker, Worker, WorkerEvent, WorkerHandle,
};
use media_plane::srtp::ReOriginator;

use crate::load::{Flows, Generator};
use crate::{bind, bind_rx, ctx, local, Args, Result, IMS_SSRC, KEY_IN, KEY_OUT};

pub(crate) enum Running {
    Engine(Vec<(RunningWorker, WorkerHandle)>),
    Bare(Vec<BareForwarder>),
}

pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) kind: BackendKind,
    pub(crate) thread: &'static str,
    pub(crate) flows: Flows,
    pub(crate) running: Running,
}

pub(crate) fn leg(crypto: LegCrypto, remote: SocketAddr, ssrc: u32) -> Box<LegConfig> {
    Box::new(LegConfig {
        crypto,
        remote: Some(remote),
        egress_pt: PtMap::default(),
        reoriginator: ReOriginator::new(ssrc, 0, 0),
    })
}

pub(crate) fn srtp(inbound: u8, outbound: u8) -> Result<LegCrypto> {
    Ok(LegCrypto::Srtp {
        inbound: Box::new(ctx(inbound)?),
        outbound: Box::new(ctx(outbound)?),
    })
}

pub(crate) fn thread_name(kind: BackendKind, bare: bool) -> &'static str {
    match (kind, bare) {
        (BackendKind::Epoll, false) => "media-epoll",
        (BackendKind::IoUring, false) => "media-uring",
        (BackendKind::Epoll, true) => "bare-epoll",
        (BackendKind::IoUring, true) => "bare-uring",
    }
}

pub(crate) fn start_engine(
    kind: BackendKind,
    a: &Args,
    gen: &Generator,
    sink: SocketAddr,
) -> Result<Target> {
    let backend = match kind {
        BackendKind::Epoll => Backend::Epoll,
        BackendKind::IoUring => Backend::IoUring,
    };
    let webs = (0..a.workers)
        .map(|_| bind_rx())
        .collect::<Result<Vec<_>>>()?;
    let ingress = webs.iter().map(local).collect::<Result<Vec<_>>>()?;
    let flows = Flows::new(a.flows, 1, &ingress, 0x1000)?;
    let mut workers = Vec::new();
    for (w, web) in webs.into_iter().enumerate() {
        let n = a.flows.div_ceil(a.workers);
        let (worker, handle) = Worker::new(ingress[w].port(), Duration::from_secs(3600), n + 16);
        let cfg = BackendConfig {
            backend,
            ims_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            batch: a.batch,
            event_queue: n + 16,
        };
        let running = spawn(worker, web, cfg).map_err(|e| format!("spawn: {e}"))?;
        workers.push((running, handle));
    }
    for i in 0..a.flows {
        let (running, handle) = &workers[i % a.workers];
        // A free port: bound and released just before the worker binds it (loopback).
        let port = local(&bind("127.0.0.1")?)?.port();
        let call = i as u64;
        handle
            .send(Command::Allocate {
                call,
                web: leg(
                    srtp(KEY_IN, 2)?,
                    flows.source(i, gen.port),
                    0x2000 + i as u32,
                ),
                ims: leg(srtp(3, KEY_OUT)?, sink, IMS_SSRC + i as u32),
                ims_port: port,
            })
            .map_err(|e| format!("allocate: {e}"))?;
        match running.events().recv_timeout(Duration::from_secs(5)) {
            Ok(WorkerEvent::Ready { .. }) => {}
            other => return Err(format!("call {call} not ready: {other:?}")),
        }
    }
    Ok(Target {
        name: format!("engine-{}", kind.as_str()),
        kind,
        thread: thread_name(kind, false),
        flows,
        running: Running::Engine(workers),
    })
}

pub(crate) fn start_bare(
    kind: BackendKind,
    a: &Args,
    gen: &Generator,
    sink: SocketAddr,
) -> Result<Target> {
    let ins = (0..a.workers)
        .map(|_| bind_rx())
        .collect::<Result<Vec<_>>>()?;
    let ingress = ins.iter().map(local).collect::<Result<Vec<_>>>()?;
    let flows = Flows::new(a.flows, 2, &ingress, 0x1000)?;
    let mut routes: Vec<Vec<BareRoute>> = (0..a.workers).map(|_| Vec::new()).collect();
    for i in 0..a.flows {
        routes[i % a.workers].push(BareRoute {
            from: flows.source(i, gen.port),
            out: bind("127.0.0.1")?,
            to: sink,
        });
    }
    let name = thread_name(kind, true);
    let fwd = ins
        .into_iter()
        .zip(routes)
        .map(|(s, r)| BareForwarder::spawn(kind, name, s, r, a.batch))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| format!("bare forwarder: {e}"))?;
    Ok(Target {
        name: format!("bare-{}", kind.as_str()),
        kind,
        thread: name,
        flows,
        running: Running::Bare(fwd),
    })
}

pub(crate) fn stop(t: Target) -> Result<Option<BackendStats>> {
    match t.running {
        Running::Engine(ws) => {
            let mut total = BackendStats::default();
            for (running, handle) in ws {
                let _ = handle.send(Command::Stop);
                let s = running.join().map_err(|e| format!("worker: {e}"))?;
                total.received += s.received;
                total.sent += s.sent;
                total.send_failed += s.send_failed;
                total.recv_errors += s.recv_errors;
            }
            Ok(Some(total))
        }
        Running::Bare(fs) => {
            for f in fs {
                f.stop().map_err(|e| format!("bare forwarder: {e}"))?;
            }
            Ok(None)
        }
    }
}

impl Target {
    /// The threads whose CPU time is the target's: its own, and for io_uring the
    /// kernel's io-wq workers of this process (async sends would run there).
    pub(crate) fn cpu_threads(&self) -> [&'static str; 2] {
        match self.kind {
            BackendKind::IoUring => [self.thread, "iou-wrk"],
            BackendKind::Epoll => [self.thread, self.thread],
        }
    }
}

/// The key the sink decrypts a target's packets with, and their first SSRC (the engine
/// re-originates the SSRC on the IMS leg; the bare forwarder leaves it).
pub(crate) fn sink_key(t: &Target) -> (u8, u32) {
    match t.running {
        Running::Engine(_) => (KEY_OUT, IMS_SSRC),
        Running::Bare(_) => (KEY_IN, t.flows.ssrc_base),
    }
}
