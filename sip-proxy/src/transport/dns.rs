//! The DNS driver for RFC 3263 server location: answers the questions a sans-IO
//! [`Resolution`] asks, with hickory-resolver.

use std::net::SocketAddr;

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{ResolveError, TokioResolver};

use crate::resolve::{Naptr, NextHop, Query, Resolution, Srv};
use crate::transaction::Target;

/// A DNS resolver for next hops.
#[derive(Clone)]
pub struct DnsResolver {
    inner: TokioResolver,
}

impl std::fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsResolver").finish_non_exhaustive()
    }
}

impl DnsResolver {
    /// The system's resolver configuration (`/etc/resolv.conf`).
    pub fn system() -> Result<Self, ResolveError> {
        Ok(Self {
            inner: TokioResolver::builder_tokio()?.build(),
        })
    }

    /// One specific name server (a lab DNS, a test server), without caching.
    pub fn with_server(server: SocketAddr) -> Self {
        let group = NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
        let config = ResolverConfig::from_parts(None, vec![], group);
        let mut opts = ResolverOpts::default();
        opts.cache_size = 0;
        let inner = TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
            .with_options(opts)
            .build();
        Self { inner }
    }

    /// The targets for `hop` in failover order (RFC 3263 §4). A failed or empty lookup
    /// counts as "no records" and the resolution moves to its next fallback.
    ///
    /// Cancel safety: dropping the future abandons the resolution; nothing is shared.
    pub async fn resolve(&self, hop: NextHop, random: u64) -> Vec<Target> {
        let mut resolution = Resolution::new(hop, random);
        while let Some(query) = resolution.poll_query() {
            match &query {
                Query::Naptr(name) => resolution.answer_naptr(self.naptr(name).await),
                Query::Srv(name) => resolution.answer_srv(self.srv(name).await),
                Query::Addr(host) => {
                    let addrs = match self.inner.lookup_ip(fqdn(host)).await {
                        Ok(ips) => ips.iter().collect(),
                        Err(e) => {
                            tracing::debug!(host, error = %e, "A/AAAA lookup failed");
                            Vec::new()
                        }
                    };
                    resolution.answer_addrs(&query, addrs);
                }
            }
        }
        resolution.targets()
    }

    async fn naptr(&self, name: &str) -> Vec<Naptr> {
        let Ok(lookup) = self.inner.lookup(fqdn(name), RecordType::NAPTR).await else {
            return Vec::new();
        };
        lookup
            .iter()
            .filter_map(|r| match r {
                RData::NAPTR(n) => Some(Naptr {
                    order: n.order(),
                    preference: n.preference(),
                    flags: String::from_utf8_lossy(n.flags()).into_owned(),
                    service: String::from_utf8_lossy(n.services()).into_owned(),
                    replacement: n.replacement().to_utf8(),
                }),
                _ => None,
            })
            .collect()
    }

    async fn srv(&self, name: &str) -> Vec<Srv> {
        let Ok(lookup) = self.inner.srv_lookup(fqdn(name)).await else {
            return Vec::new();
        };
        lookup
            .iter()
            .map(|s| Srv {
                priority: s.priority(),
                weight: s.weight(),
                port: s.port(),
                target: s.target().to_utf8(),
            })
            .collect()
    }
}

/// Names are queried fully qualified, so no search domain changes what is asked.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}
