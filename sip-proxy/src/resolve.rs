//! Locating SIP servers (RFC 3263): from a next-hop URI to an ordered list of targets,
//! tried in turn on transport errors, timeouts and 503 (RFC 3263 §4.3).
//!
//! ```text
//!  URI ─► transport param? numeric host? explicit port?
//!          │ no                                  │ yes: A/AAAA (or the IP) on that port
//!          ▼
//!        NAPTR (SIP+D2U / SIP+D2T / SIPS+D2T, by order, preference) ─► SRV of the replacement
//!          │ none
//!          ▼
//!        SRV _sips._tcp / _sip._tcp / _sip._udp ─► A/AAAA of each SRV target (priority, weight)
//!          │ none
//!          ▼
//!        A/AAAA of the host on 5060 (5061 for TLS)
//! ```
//!
//! Sans-IO: [`Resolution`] asks for DNS queries through [`Resolution::poll_query`] and is fed
//! the answers; the driver owns the resolver (hickory) and the clock. Weighted SRV selection
//! (RFC 2782) takes its randomness from the caller.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use crate::ids::IdGen;
use crate::transaction::{Target, Transport};

/// A NAPTR record (RFC 3403) as the resolver returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naptr {
    /// Order: lower first.
    pub order: u16,
    /// Preference within an order: lower first.
    pub preference: u16,
    /// Flags (`s` for SRV-terminal records).
    pub flags: String,
    /// Service (`SIP+D2U`, `SIP+D2T`, `SIPS+D2T`).
    pub service: String,
    /// The replacement domain (an SRV name).
    pub replacement: String,
}

/// An SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    /// Priority: lower first.
    pub priority: u16,
    /// Weight within a priority.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Target host.
    pub target: String,
}

/// A DNS question the resolution needs answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// NAPTR records of a domain.
    Naptr(String),
    /// SRV records of a name.
    Srv(String),
    /// A and AAAA records of a host.
    Addr(String),
}

/// What a next hop is, parsed from config (`host`, `host:port`, or a SIP URI with an
/// optional `;transport=` parameter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHop {
    /// Host name or IP literal.
    pub host: String,
    /// Explicit port, if any.
    pub port: Option<u16>,
    /// Explicit transport, if any.
    pub transport: Option<Transport>,
    /// `sips:` URI: TLS only.
    pub secure: bool,
}

impl NextHop {
    /// Parses `sip:host[:port][;transport=x]`, `sips:…`, `host[:port]` or `[v6]:port`.
    pub fn parse(text: &str) -> Option<Self> {
        let (secure, rest) = match text.split_once(':') {
            Some(("sips", rest)) => (true, rest),
            Some(("sip", rest)) => (false, rest),
            _ => (false, text),
        };
        let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let mut parts = rest.split(';');
        let hostport = parts.next()?;
        let transport = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case("transport"))
            .and_then(|(_, v)| match v.to_ascii_lowercase().as_str() {
                "udp" => Some(Transport::Udp),
                "tcp" => Some(Transport::Tcp),
                "tls" => Some(Transport::Tls),
                _ => None,
            });
        let (host, port) = split_host_port(hostport)?;
        (!host.is_empty()).then_some(NextHop {
            host,
            port,
            transport,
            secure,
        })
    }
}

fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if let Some(v6) = s.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        let port = match rest.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if rest.is_empty() => None,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h.to_owned(), Some(p.parse().ok()?))),
        _ => Some((s.to_owned(), None)),
    }
}

fn default_port(t: Transport) -> u16 {
    if t == Transport::Tls {
        5061
    } else {
        5060
    }
}

/// NAPTR services the gateway speaks, with their transports (RFC 3263 §4.1).
fn naptr_transport(service: &str) -> Option<Transport> {
    match service.to_ascii_uppercase().as_str() {
        "SIP+D2U" => Some(Transport::Udp),
        "SIP+D2T" => Some(Transport::Tcp),
        "SIPS+D2T" => Some(Transport::Tls),
        _ => None,
    }
}

/// The SRV prefixes tried when there are no NAPTR records (RFC 3263 §4.1), TLS first
/// as the gateway prefers it.
fn srv_prefixes(secure: bool) -> &'static [(&'static str, Transport)] {
    if secure {
        &[("_sips._tcp.", Transport::Tls)]
    } else {
        &[
            ("_sips._tcp.", Transport::Tls),
            ("_sip._tcp.", Transport::Tcp),
            ("_sip._udp.", Transport::Udp),
        ]
    }
}

/// One pending host lookup: the host, its port and transport, in target order.
#[derive(Debug, Clone)]
struct HostSlot {
    host: String,
    port: u16,
    transport: Transport,
    /// Filled once the A/AAAA answer arrives.
    addrs: Option<Vec<IpAddr>>,
}

#[derive(Debug)]
enum Step {
    Naptr,
    /// SRV names still to ask, in NAPTR (or fallback) order, with their transports.
    Srv {
        pending: VecDeque<(String, Transport)>,
    },
    Hosts,
    Done,
}

/// One RFC 3263 resolution in progress.
#[derive(Debug)]
pub struct Resolution {
    hop: NextHop,
    step: Step,
    asked: Option<Query>,
    hosts: Vec<HostSlot>,
    random: IdGen,
}

impl Resolution {
    /// Starts resolving `hop`; `random` drives the RFC 2782 weighted choice.
    pub fn new(hop: NextHop, random: u64) -> Self {
        let mut r = Resolution {
            hop,
            step: Step::Done,
            asked: None,
            hosts: Vec::new(),
            random: IdGen::new(random),
        };
        r.start();
        r
    }

    fn start(&mut self) {
        let hop = &self.hop;
        let numeric = hop.host.parse::<IpAddr>().is_ok();
        let transport = hop.transport.unwrap_or(if hop.secure {
            Transport::Tls
        } else {
            Transport::Udp
        });
        if numeric || hop.port.is_some() {
            // §4.1/§4.2: an IP or an explicit port means no NAPTR/SRV.
            let port = hop.port.unwrap_or(default_port(transport));
            self.hosts.push(HostSlot {
                host: hop.host.clone(),
                port,
                transport,
                addrs: None,
            });
            self.step = Step::Hosts;
        } else if let Some(t) = hop.transport {
            // §4.2: a transport but no port: SRV for that transport only.
            let prefix = srv_prefixes(false)
                .iter()
                .find(|(_, pt)| *pt == t)
                .map_or("_sip._udp.", |(p, _)| p);
            let pending = VecDeque::from([(format!("{prefix}{}", hop.host), t)]);
            self.step = Step::Srv { pending };
        } else {
            self.step = Step::Naptr;
        }
    }

    /// The next DNS question, `None` when nothing is to be asked (done, or waiting).
    pub fn poll_query(&mut self) -> Option<Query> {
        if self.asked.is_some() {
            return None;
        }
        let q = match &mut self.step {
            Step::Naptr => Query::Naptr(self.hop.host.clone()),
            Step::Srv { pending, .. } => Query::Srv(pending.front()?.0.clone()),
            Step::Hosts => Query::Addr(self.hosts.iter().find(|h| h.addrs.is_none())?.host.clone()),
            Step::Done => return None,
        };
        // IP literals need no lookup.
        if let Query::Addr(host) = &q {
            if let Ok(ip) = host.parse::<IpAddr>() {
                self.answer_addrs(&q.clone(), vec![ip]);
                return self.poll_query();
            }
        }
        self.asked = Some(q.clone());
        Some(q)
    }

    /// NAPTR answer (an error or NXDOMAIN is an empty list).
    pub fn answer_naptr(&mut self, records: Vec<Naptr>) {
        self.asked = None;
        let mut usable: Vec<(Naptr, Transport)> = records
            .into_iter()
            .filter(|r| r.flags.eq_ignore_ascii_case("s"))
            .filter_map(|r| naptr_transport(&r.service).map(|t| (r, t)))
            .filter(|(_, t)| !self.hop.secure || *t == Transport::Tls)
            .collect();
        usable.sort_by_key(|(r, _)| (r.order, r.preference));
        let pending: VecDeque<(String, Transport)> = if usable.is_empty() {
            srv_prefixes(self.hop.secure)
                .iter()
                .map(|(p, t)| (format!("{p}{}", self.hop.host), *t))
                .collect()
        } else {
            usable
                .into_iter()
                .map(|(r, t)| (r.replacement.trim_end_matches('.').to_owned(), t))
                .collect()
        };
        self.step = Step::Srv { pending };
    }

    /// SRV answer for the name last asked. Its targets follow those of earlier names, so
    /// NAPTR order stays ahead of SRV priorities (RFC 3263 §4.1, §4.2).
    pub fn answer_srv(&mut self, records: Vec<Srv>) {
        self.asked = None;
        let Step::Srv { pending } = &mut self.step else {
            return;
        };
        let Some((_, transport)) = pending.pop_front() else {
            return;
        };
        let done = pending.is_empty();
        // RFC 2782: a single record with target "." means the service is not offered.
        let usable = records
            .into_iter()
            .filter(|r| r.target != ".")
            .map(|r| (r, transport))
            .collect();
        for (srv, t) in order_srv(usable, &mut self.random) {
            let host = srv.target.trim_end_matches('.').to_owned();
            self.hosts.push(HostSlot {
                host,
                port: srv.port,
                transport: t,
                addrs: None,
            });
        }
        if !done {
            return;
        }
        if self.hosts.is_empty() {
            // §4.2: no SRV records: A/AAAA of the host on the default port.
            let t = self.hop.transport.unwrap_or(if self.hop.secure {
                Transport::Tls
            } else {
                Transport::Udp
            });
            self.hosts.push(HostSlot {
                host: self.hop.host.clone(),
                port: default_port(t),
                transport: t,
                addrs: None,
            });
        }
        self.step = Step::Hosts;
    }

    /// A/AAAA answer for the host last asked.
    pub fn answer_addrs(&mut self, query: &Query, addrs: Vec<IpAddr>) {
        self.asked = None;
        let Query::Addr(host) = query else { return };
        for slot in self
            .hosts
            .iter_mut()
            .filter(|h| &h.host == host && h.addrs.is_none())
        {
            slot.addrs = Some(addrs.clone());
        }
        if self.hosts.iter().all(|h| h.addrs.is_some()) {
            self.step = Step::Done;
        }
    }

    /// Whether every question has been answered.
    pub fn is_done(&self) -> bool {
        matches!(self.step, Step::Done)
    }

    /// The targets in the order to try them (RFC 3263 §4.3: the next one after a
    /// transport error, a timeout or a 503). Empty until [`is_done`](Self::is_done).
    pub fn targets(&self) -> Vec<Target> {
        if !self.is_done() {
            return Vec::new();
        }
        self.hosts
            .iter()
            .flat_map(|h| {
                h.addrs.iter().flatten().map(move |ip| Target {
                    transport: h.transport,
                    addr: SocketAddr::new(*ip, h.port),
                })
            })
            .collect()
    }
}

/// RFC 2782 ordering: by priority; within a priority, a weighted random draw without
/// replacement (zero-weight records first in the draw, as the RFC's running-sum rule does).
fn order_srv(mut records: Vec<(Srv, Transport)>, random: &mut IdGen) -> Vec<(Srv, Transport)> {
    records.sort_by_key(|(r, _)| (r.priority, r.weight));
    let mut out = Vec::with_capacity(records.len());
    while !records.is_empty() {
        let priority = records[0].0.priority;
        let mut group: Vec<(Srv, Transport)> = Vec::new();
        while records.first().is_some_and(|(r, _)| r.priority == priority) {
            group.push(records.remove(0));
        }
        while !group.is_empty() {
            let total: u64 = group.iter().map(|(r, _)| u64::from(r.weight)).sum();
            let pick = if total == 0 {
                0
            } else {
                random.next_u64() % (total + 1)
            };
            let mut running = 0;
            let index = group
                .iter()
                .position(|(r, _)| {
                    running += u64::from(r.weight);
                    running >= pick
                })
                .unwrap_or(0);
            out.push(group.remove(index));
        }
    }
    out
}

/// The target list a static (lab) next hop gives: its address, no DNS.
pub fn static_target(hop: &NextHop) -> Option<Target> {
    let ip: IpAddr = hop.host.parse().ok()?;
    let transport = hop.transport.unwrap_or(if hop.secure {
        Transport::Tls
    } else {
        Transport::Udp
    });
    Some(Target {
        transport,
        addr: SocketAddr::new(ip, hop.port.unwrap_or(default_port(transport))),
    })
}
