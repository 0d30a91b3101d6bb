//! SDP (RFC 8866) as received: lines kept in order, typed views on demand.
//!
//! ```text
//!   session part:  v= o= s= [i= u= e= p=] [c=] [b=]* t= [r=]* [z=] [k=] a=*
//!   media part(s): m= [i=] [c=] [b=]* [k=] a=*
//! ```
//!
//! Parsing borrows nothing from the input after it returns (descriptions are small and
//! built once per offer/answer), but keeps every line it does not interpret verbatim, so
//! a description that is only passed through prints as it came in.

use std::fmt;

use super::SdpError;

/// The largest SDP accepted (the JSON API limits `sdp` to 64 KiB as well).
pub const MAX_SDP_LEN: usize = 64 * 1024;

/// One `a=` line: `name` or `name:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute name (`rtpmap`, `ice-ufrag`, …).
    pub name: String,
    /// The text after the first `:`, if any.
    pub value: Option<String>,
}

impl Attribute {
    /// A property attribute (`a=rtcp-mux`).
    pub fn flag(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: None,
        }
    }

    /// A value attribute (`a=mid:0`).
    pub fn value(name: &str, value: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            value: Some(value.into()),
        }
    }
}

/// A `c=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `IP4` or `IP6`.
    pub addr_type: String,
    /// The address (unicast; multicast TTL suffixes are kept as written).
    pub address: String,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// `audio`, `video`, `application`, …
    pub kind: String,
    /// The port; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// `/<n>` port count, if written.
    pub port_count: Option<u16>,
    /// `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, …
    pub proto: String,
    /// Format list (payload types for RTP).
    pub formats: Vec<String>,
    /// `i=` line.
    pub title: Option<String>,
    /// `c=` line.
    pub connection: Option<Connection>,
    /// `b=` lines as `(type, value)`.
    pub bandwidth: Vec<(String, String)>,
    /// `a=` lines in order.
    pub attributes: Vec<Attribute>,
}

/// A whole session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=` line value.
    pub origin: String,
    /// `s=` line value.
    pub session_name: String,
    /// Session-level lines kept verbatim between `s=` and `t=` other than `c=`/`b=`
    /// (`i=`, `u=`, `e=`, `p=`), as `(type char, value)`.
    pub extra: Vec<(char, String)>,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    /// Session-level `b=` lines.
    pub bandwidth: Vec<(String, String)>,
    /// `t=` (and `r=`/`z=`) lines as `(type char, value)`.
    pub timing: Vec<(char, String)>,
    /// Session-level `a=` lines.
    pub attributes: Vec<Attribute>,
    /// The media sections.
    pub media: Vec<Media>,
}

/// Attribute lookups shared by the session and media levels.
pub trait Attributes {
    /// All attributes in order.
    fn attrs(&self) -> &[Attribute];

    /// The value of the first attribute named `name`.
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs()
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.value.as_deref())
    }

    /// Whether an attribute named `name` is present (with or without value).
    fn has_attr(&self, name: &str) -> bool {
        self.attrs().iter().any(|a| a.name == name)
    }

    /// The values of every attribute named `name`.
    fn attr_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attrs()
            .iter()
            .filter(move |a| a.name == name)
            .filter_map(|a| a.value.as_deref())
    }
}

impl Attributes for SessionDescription {
    fn attrs(&self) -> &[Attribute] {
        &self.attributes
    }
}

impl Attributes for Media {
    fn attrs(&self) -> &[Attribute] {
        &self.attributes
    }
}

impl SessionDescription {
    /// Parses an SDP body. Accepts CRLF or bare LF line ends, as RFC 8866 §5 allows.
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        if text.len() > MAX_SDP_LEN {
            return Err(SdpError::TooLarge(text.len()));
        }
        let mut lines = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .enumerate();
        let mut sdp = SessionDescription {
            origin: String::new(),
            session_name: String::new(),
            extra: Vec::new(),
            connection: None,
            bandwidth: Vec::new(),
            timing: Vec::new(),
            attributes: Vec::new(),
            media: Vec::new(),
        };
        let mut saw_version = false;
        let mut saw_origin = false;
        for (index, line) in lines.by_ref() {
            if line.is_empty() {
                continue;
            }
            let lineno = index + 1;
            let (kind, value) = split_line(line, lineno)?;
            if !saw_version {
                if kind != 'v' || value != "0" {
                    return Err(SdpError::Syntax {
                        line: lineno,
                        what: "must start with v=0",
                    });
                }
                saw_version = true;
                continue;
            }
            match (kind, sdp.media.last_mut()) {
                ('m', _) => sdp.media.push(parse_media_line(value, lineno)?),
                ('o', None) => {
                    sdp.origin = value.to_owned();
                    saw_origin = true;
                }
                ('s', None) => sdp.session_name = value.to_owned(),
                ('c', None) => sdp.connection = Some(parse_connection(value, lineno)?),
                ('b', None) => sdp.bandwidth.push(parse_bandwidth(value, lineno)?),
                ('a', None) => sdp.attributes.push(parse_attribute(value)),
                ('t' | 'r' | 'z', None) => sdp.timing.push((kind, value.to_owned())),
                ('i' | 'u' | 'e' | 'p' | 'k', None) => sdp.extra.push((kind, value.to_owned())),
                ('i', Some(m)) => m.title = Some(value.to_owned()),
                ('c', Some(m)) => m.connection = Some(parse_connection(value, lineno)?),
                ('b', Some(m)) => m.bandwidth.push(parse_bandwidth(value, lineno)?),
                ('a', Some(m)) => m.attributes.push(parse_attribute(value)),
                ('k', Some(_)) => {} // RFC 8866 §5.12: obsolete, ignored.
                _ => {
                    return Err(SdpError::Syntax {
                        line: lineno,
                        what: "unexpected line type",
                    })
                }
            }
        }
        if !saw_version || !saw_origin {
            return Err(SdpError::Syntax {
                line: 1,
                what: "missing v= or o= line",
            });
        }
        Ok(sdp)
    }

    /// The first `m=audio` section and its index.
    pub fn audio(&self) -> Option<(usize, &Media)> {
        self.media
            .iter()
            .enumerate()
            .find(|(_, m)| m.kind == "audio" && m.port != 0)
    }

    /// The connection address of `media`, falling back to the session level.
    pub fn connection_for<'a>(&'a self, media: &'a Media) -> Option<&'a Connection> {
        media.connection.as_ref().or(self.connection.as_ref())
    }

    /// A media-level attribute, falling back to the session level (for attributes such
    /// as `fingerprint`, `ice-ufrag`, `setup` that may stand at either).
    pub fn media_or_session_attr<'a>(&'a self, media: &'a Media, name: &str) -> Option<&'a str> {
        media.attr(name).or_else(|| self.attr(name))
    }
}

fn split_line(line: &str, lineno: usize) -> Result<(char, &str), SdpError> {
    let bytes = line.as_bytes();
    if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_lowercase() {
        return Err(SdpError::Syntax {
            line: lineno,
            what: "not a <type>=<value> line",
        });
    }
    Ok((char::from(bytes[0]), &line[2..]))
}

fn parse_media_line(value: &str, lineno: usize) -> Result<Media, SdpError> {
    let bad = SdpError::Syntax {
        line: lineno,
        what: "m= line needs <media> <port> <proto> <fmt>…",
    };
    let mut parts = value.split_ascii_whitespace();
    let kind = parts.next().ok_or(bad.clone())?.to_owned();
    let port_text = parts.next().ok_or(bad.clone())?;
    let (port, port_count) = match port_text.split_once('/') {
        Some((p, n)) => (
            p.parse().map_err(|_| bad.clone())?,
            Some(n.parse().map_err(|_| bad.clone())?),
        ),
        None => (port_text.parse().map_err(|_| bad.clone())?, None),
    };
    let proto = parts.next().ok_or(bad.clone())?.to_owned();
    let formats: Vec<String> = parts.map(str::to_owned).collect();
    if formats.is_empty() {
        return Err(bad);
    }
    Ok(Media {
        kind,
        port,
        port_count,
        proto,
        formats,
        title: None,
        connection: None,
        bandwidth: Vec::new(),
        attributes: Vec::new(),
    })
}

fn parse_connection(value: &str, lineno: usize) -> Result<Connection, SdpError> {
    let mut parts = value.split_ascii_whitespace();
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("IN"), Some(addr_type @ ("IP4" | "IP6")), Some(address), None) => Ok(Connection {
            addr_type: addr_type.to_owned(),
            address: address.to_owned(),
        }),
        _ => Err(SdpError::Syntax {
            line: lineno,
            what: "c= must be IN IP4|IP6 <address>",
        }),
    }
}

fn parse_bandwidth(value: &str, lineno: usize) -> Result<(String, String), SdpError> {
    value
        .split_once(':')
        .map(|(t, v)| (t.to_owned(), v.to_owned()))
        .ok_or(SdpError::Syntax {
            line: lineno,
            what: "b= must be <type>:<value>",
        })
}

fn parse_attribute(value: &str) -> Attribute {
    match value.split_once(':') {
        Some((name, v)) => Attribute::value(name, v),
        None => Attribute::flag(value),
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c=IN {} {}\r\n", self.addr_type, self.address)
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "a={}:{}\r\n", self.name, v),
            None => write!(f, "a={}\r\n", self.name),
        }
    }
}

impl fmt::Display for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.kind, self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {} {}\r\n", self.proto, self.formats.join(" "))?;
        if let Some(title) = &self.title {
            write!(f, "i={title}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write!(f, "{c}")?;
        }
        for (t, v) in &self.bandwidth {
            write!(f, "b={t}:{v}\r\n")?;
        }
        self.attributes.iter().try_for_each(|a| write!(f, "{a}"))
    }
}

impl fmt::Display for SessionDescription {
    /// Writes the description in RFC 8866 §5 order with CRLF line ends.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v=0\r\no={}\r\ns={}\r\n", self.origin, self.session_name)?;
        for (t, v) in self.extra.iter().filter(|(t, _)| *t != 'k') {
            write!(f, "{t}={v}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write!(f, "{c}")?;
        }
        for (t, v) in &self.bandwidth {
            write!(f, "b={t}:{v}\r\n")?;
        }
        for (t, v) in &self.timing {
            write!(f, "{t}={v}\r\n")?;
        }
        for a in &self.attributes {
            write!(f, "{a}")?;
        }
        self.media.iter().try_for_each(|m| write!(f, "{m}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n";

    #[test]
    fn parse_then_print_is_identity_for_canonical_input() {
        let sdp = SessionDescription::parse(MINIMAL).unwrap();
        assert_eq!(sdp.to_string(), MINIMAL);
        let (_, audio) = sdp.audio().unwrap();
        assert_eq!(audio.formats, ["0", "101"]);
        assert_eq!(audio.attr("fmtp"), Some("101 0-15"));
        assert!(audio.has_attr("sendrecv"));
        assert_eq!(sdp.connection_for(audio).unwrap().address, "192.0.2.1");
    }

    #[test]
    fn bare_lf_is_accepted() {
        let lf = MINIMAL.replace("\r\n", "\n");
        assert_eq!(SessionDescription::parse(&lf).unwrap().to_string(), MINIMAL);
    }

    #[test]
    fn malformed_input_is_an_error_with_a_line() {
        let cases = [
            ("", 1),
            ("v=1\r\n", 1),
            ("v=0\r\no=x\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP 0\r\n", 5),
            ("v=0\r\no=x\r\ns=-\r\nc=IN IP4\r\n", 4),
            ("v=0\r\no=x\r\nfoo\r\n", 3),
            ("v=0\r\no=x\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP\r\n", 5),
        ];
        for (text, line) in cases {
            match SessionDescription::parse(text) {
                Err(SdpError::Syntax { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn oversized_input_is_refused() {
        let big = format!(
            "v=0\r\no=x\r\ns=-\r\n{}",
            "a=x\r\n".repeat(MAX_SDP_LEN / 5 + 1)
        );
        assert!(matches!(
            SessionDescription::parse(&big),
            Err(SdpError::TooLarge(_))
        ));
    }
}
