//! SIP messages (RFC 3261 §7): parsed from a borrowed datagram, printed into a caller's
//! buffer.
//!
//! ```text
//!  datagram ──► Message::parse ──► Request / Response { start line, Headers (raw), body }
//!                                        │ typed views on demand (Via, From/To, CSeq …)
//!                                        ▼
//!  Vec<u8>  ◄── Message::write_to ◄── same headers, untouched ones byte for byte
//! ```

use std::borrow::Cow;

pub mod builder;
mod error;
pub mod fuzz;
mod header;
mod headers_access;
mod parse;
mod print;
pub mod scan;
pub mod typed;
pub mod uri;
pub mod validate;

pub use error::{reason_phrase, Error};
pub use header::{Header, HeaderName, Headers};
pub(crate) use parse::{is_response_line, split as split_raw};
pub use uri::{SipUri, TelUri, Uri};

macro_rules! methods {
    ($( $variant:ident => $text:literal ,)*) => {
        /// A request method (RFC 3261 §7.1, §27.4). Methods are case-sensitive; anything else
        /// is an extension method (RFC 4475 §3.1.1.2).
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Method {
            $(
                #[doc = concat!("`", $text, "`")]
                $variant,
            )*
            /// An extension method token.
            Extension(String),
        }

        impl Method {
            /// Classifies a method token (the caller has checked it is a token).
            pub fn from_bytes(b: &[u8]) -> Self {
                $( if b == $text.as_bytes() { return Method::$variant; } )*
                Method::Extension(String::from_utf8_lossy(b).into_owned())
            }

            /// The method token.
            pub fn as_bytes(&self) -> &[u8] {
                match self {
                    $( Method::$variant => $text.as_bytes(), )*
                    Method::Extension(s) => s.as_bytes(),
                }
            }
        }
    };
}

methods! {
    Invite => "INVITE",
    Ack => "ACK",
    Bye => "BYE",
    Cancel => "CANCEL",
    Options => "OPTIONS",
    Register => "REGISTER",
    Prack => "PRACK",
    Update => "UPDATE",
    Info => "INFO",
    Message => "MESSAGE",
    Refer => "REFER",
    Subscribe => "SUBSCRIBE",
    Notify => "NOTIFY",
    Publish => "PUBLISH",
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method.
    pub method: Method,
    /// The Request-URI as received (validated by the parser; see [`Request::uri`]).
    pub uri: Cow<'a, [u8]>,
    /// Headers as received.
    pub headers: Headers<'a>,
    /// The body, framed by Content-Length.
    pub body: Cow<'a, [u8]>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response<'a> {
    /// Status code, 100–699.
    pub status: u16,
    /// Reason phrase as received (may be empty or UTF-8, RFC 4475 §3.1.1.12–13).
    pub reason: Cow<'a, [u8]>,
    /// Headers as received.
    pub headers: Headers<'a>,
    /// The body, framed by Content-Length.
    pub body: Cow<'a, [u8]>,
}

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// A request.
    Request(Request<'a>),
    /// A response.
    Response(Response<'a>),
}

impl<'a> Message<'a> {
    /// Parses one message from a datagram (RFC 3261 §7, §18.3): leading CRLFs are skipped,
    /// the body is framed by Content-Length (the rest of the datagram when absent, RFC 4475
    /// §3.4.1) and trailing octets past it are ignored (RFC 4475 §3.1.1.8). The headers the
    /// transaction and dialog layers rely on are checked here; the rest is parsed on demand.
    /// Never panics.
    pub fn parse(datagram: &'a [u8]) -> Result<Self, Error> {
        parse::parse_message(datagram)
    }

    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Message::Request(r) => r.write_to(out),
            Message::Response(r) => r.write_to(out),
        }
    }

    /// The headers.
    pub fn headers(&self) -> &Headers<'a> {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// Converts into a message that owns its bytes.
    pub fn into_owned(self) -> Message<'static> {
        match self {
            Message::Request(r) => Message::Request(r.into_owned()),
            Message::Response(r) => Message::Response(r.into_owned()),
        }
    }
}

impl<'a> Request<'a> {
    /// The parsed Request-URI.
    pub fn uri(&self) -> Result<Uri<'_>, Error> {
        Uri::parse(&self.uri).map_err(|_| Error::BadRequestUri)
    }

    /// The wire form as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(256 + self.body.len());
        self.write_to(&mut v);
        v
    }

    /// Converts into a request that owns its bytes.
    pub fn into_owned(self) -> Request<'static> {
        Request {
            method: self.method,
            uri: Cow::Owned(self.uri.into_owned()),
            headers: self.headers.into_owned(),
            body: Cow::Owned(self.body.into_owned()),
        }
    }
}

impl<'a> Response<'a> {
    /// The wire form as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(256 + self.body.len());
        self.write_to(&mut v);
        v
    }

    /// Converts into a response that owns its bytes.
    pub fn into_owned(self) -> Response<'static> {
        Response {
            status: self.status,
            reason: Cow::Owned(self.reason.into_owned()),
            headers: self.headers.into_owned(),
            body: Cow::Owned(self.body.into_owned()),
        }
    }

    /// 1xx.
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }

    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}
