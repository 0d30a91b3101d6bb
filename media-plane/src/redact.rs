//! Redaction of personal data in logs.
//!
//! Operators often may not keep subscriber phone numbers or IP addresses in their log
//! stores. Every log line that mentions one formats it through this module, so one
//! config switch (`log.redact`) decides for the whole process.
//!
//! The helpers return small [`Display`](fmt::Display) wrappers: nothing is allocated and
//! nothing is formatted unless the log line is actually emitted.
//!
//! ```
//! use media_plane::redact;
//! redact::set_enabled(true);
//! assert_eq!(redact::phone("+15550100").to_string(), "+155…00");
//! redact::set_enabled(false);
//! assert_eq!(redact::phone("+15550100").to_string(), "+15550100");
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns redaction on or off for the whole process (the `log.redact` config key).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether redaction is on. It is on until the config says otherwise.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// A phone number (`+15550100`, `tel:+15550100`): keeps the first four and last two
/// characters, enough to tell test numbers apart without identifying a subscriber.
pub fn phone(number: &str) -> Phone<'_> {
    Phone(number)
}

/// A SIP or tel URI: the user part is redacted as a phone number, the host part hidden.
pub fn uri(uri: &str) -> Uri<'_> {
    Uri(uri)
}

/// An IP address: IPv4 keeps the first octet, IPv6 the first group.
pub fn ip(ip: IpAddr) -> Ip {
    Ip(ip)
}

/// A socket address: the IP as [`ip`], the port kept (ports carry no personal data and
/// are needed to follow a media flow).
pub fn addr(addr: SocketAddr) -> Addr {
    Addr(addr)
}

/// See [`phone`].
#[derive(Debug, Clone, Copy)]
pub struct Phone<'a>(&'a str);

/// See [`uri`].
#[derive(Debug, Clone, Copy)]
pub struct Uri<'a>(&'a str);

/// See [`ip`].
#[derive(Debug, Clone, Copy)]
pub struct Ip(IpAddr);

/// See [`addr`].
#[derive(Debug, Clone, Copy)]
pub struct Addr(SocketAddr);

fn write_masked_number(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let chars = s.chars().count();
    if chars <= 6 {
        return f.write_str("…");
    }
    let head: String = s.chars().take(4).collect();
    let tail: String = s.chars().skip(chars - 2).collect();
    write!(f, "{head}…{tail}")
}

impl fmt::Display for Phone<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !enabled() {
            return f.write_str(self.0);
        }
        match self.0.strip_prefix("tel:") {
            Some(rest) => {
                f.write_str("tel:")?;
                write_masked_number(f, rest)
            }
            None => write_masked_number(f, self.0),
        }
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !enabled() {
            return f.write_str(self.0);
        }
        let (scheme, rest) = match self.0.split_once(':') {
            Some((scheme, rest)) if !scheme.contains('@') => (scheme, rest),
            _ => ("", self.0),
        };
        if !scheme.is_empty() {
            write!(f, "{scheme}:")?;
        }
        match rest.split_once('@') {
            Some((user, _host)) => {
                write_masked_number(f, user)?;
                f.write_str("@…")
            }
            None if scheme == "tel" => write_masked_number(f, rest),
            None => f.write_str("…"),
        }
    }
}

impl fmt::Display for Ip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !enabled() {
            return write!(f, "{}", self.0);
        }
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{}.x.x.x", v4.octets()[0]),
            IpAddr::V6(v6) => write!(f, "{:x}:…", v6.segments()[0]),
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            SocketAddr::V4(a) => write!(f, "{}:{}", Ip(IpAddr::V4(*a.ip())), a.port()),
            SocketAddr::V6(a) => write!(f, "[{}]:{}", Ip(IpAddr::V6(*a.ip())), a.port()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test owns the global switch, so parallel tests never see it flip.
    #[test]
    fn redacts_when_enabled_and_passes_through_when_not() {
        set_enabled(true);
        assert_eq!(phone("+15550100").to_string(), "+155…00");
        assert_eq!(phone("tel:+15550100").to_string(), "tel:+155…00");
        assert_eq!(phone("123").to_string(), "…");
        assert_eq!(
            uri("sip:+15550100@ims.example.net").to_string(),
            "sip:+155…00@…"
        );
        assert_eq!(uri("tel:+15550100").to_string(), "tel:+155…00");
        assert_eq!(uri("sip:ims.example.net").to_string(), "sip:…");
        assert_eq!(ip("192.0.2.7".parse().unwrap()).to_string(), "192.x.x.x");
        assert_eq!(ip("2001:db8::1".parse().unwrap()).to_string(), "2001:…");
        assert_eq!(
            addr("192.0.2.7:5060".parse().unwrap()).to_string(),
            "192.x.x.x:5060"
        );
        assert_eq!(
            addr("[2001:db8::1]:5060".parse().unwrap()).to_string(),
            "[2001:…]:5060"
        );

        set_enabled(false);
        assert_eq!(phone("+15550100").to_string(), "+15550100");
        assert_eq!(
            uri("sip:+15550100@ims.example.net").to_string(),
            "sip:+15550100@ims.example.net"
        );
        assert_eq!(
            addr("192.0.2.7:5060".parse().unwrap()).to_string(),
            "192.0.2.7:5060"
        );
        set_enabled(true);
    }
}
