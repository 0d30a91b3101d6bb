//! Headers kept as received: name and raw value bytes, in order (RFC 3261 §7.3).
//!
//! Nothing is parsed until asked: [`Headers::get`] finds a header by its canonical name
//! (compact forms included, RFC 3261 §7.3.3) and the typed views in [`super::typed`]
//! parse the raw value on demand. Headers the gateway does not touch are printed exactly as
//! they were received.

use std::borrow::Cow;

use super::scan;

macro_rules! header_names {
    ($( $variant:ident => $canonical:literal $(, $compact:literal)? ;)*) => {
        /// Header names the stack knows, with their compact forms (RFC 3261 §7.3.3, §20).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $(
                #[doc = concat!("`", $canonical, "`")]
                $variant,
            )*
            /// Any other header; compare by raw name with [`Headers::get_raw`].
            Other,
        }

        impl HeaderName {
            /// Classifies a header name as received, case-insensitively.
            pub fn from_bytes(name: &[u8]) -> Self {
                $(
                    if name.eq_ignore_ascii_case($canonical.as_bytes())
                        $(|| name.eq_ignore_ascii_case($compact.as_bytes()))? {
                        return HeaderName::$variant;
                    }
                )*
                HeaderName::Other
            }

            /// The canonical spelling (`Via`, `Call-ID`, …); `None` for [`HeaderName::Other`].
            pub fn as_str(self) -> Option<&'static str> {
                match self {
                    $(HeaderName::$variant => Some($canonical),)*
                    HeaderName::Other => None,
                }
            }
        }
    };
}

header_names! {
    Via => "Via", "v";
    From => "From", "f";
    To => "To", "t";
    CallId => "Call-ID", "i";
    CSeq => "CSeq";
    Contact => "Contact", "m";
    Route => "Route";
    RecordRoute => "Record-Route";
    MaxForwards => "Max-Forwards";
    ContentLength => "Content-Length", "l";
    ContentType => "Content-Type", "c";
    ContentEncoding => "Content-Encoding", "e";
    Authorization => "Authorization";
    WwwAuthenticate => "WWW-Authenticate";
    ProxyAuthorization => "Proxy-Authorization";
    ProxyAuthenticate => "Proxy-Authenticate";
    Require => "Require";
    ProxyRequire => "Proxy-Require";
    Supported => "Supported", "k";
    Unsupported => "Unsupported";
    RSeq => "RSeq";
    RAck => "RAck";
    SessionExpires => "Session-Expires", "x";
    MinSe => "Min-SE";
    PAssertedIdentity => "P-Asserted-Identity";
    PPreferredIdentity => "P-Preferred-Identity";
    Path => "Path";
    ServiceRoute => "Service-Route";
    Subject => "Subject", "s";
    Event => "Event", "o";
    Expires => "Expires";
    Allow => "Allow";
    Accept => "Accept";
    ReferTo => "Refer-To", "r";
}

/// One header line as received: the name and the value with surrounding LWS trimmed.
/// Folded continuation lines stay inside `value`; the typed views read through them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    /// The name exactly as received (`v`, `MaX-fOrWaRdS`, …); see [`Header::name`].
    name: Cow<'a, [u8]>,
    /// The name classified once at creation, so lookups cost one comparison per header.
    kind: HeaderName,
    /// The raw value.
    pub value: Cow<'a, [u8]>,
}

impl<'a> Header<'a> {
    /// Builds a header from owned or borrowed parts.
    pub fn new(name: impl Into<Cow<'a, [u8]>>, value: impl Into<Cow<'a, [u8]>>) -> Self {
        let name = name.into();
        Header {
            kind: HeaderName::from_bytes(&name),
            name,
            value: value.into(),
        }
    }

    /// The name exactly as received.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The canonical name of this header.
    pub fn kind(&self) -> HeaderName {
        self.kind
    }

    /// The value with folded lines joined: each `CRLF 1*WSP` becomes one SP
    /// (RFC 3261 §7.3.1). Borrows when the value was not folded.
    pub fn unfolded(&self) -> Cow<'_, [u8]> {
        let v: &[u8] = &self.value;
        if !v.contains(&b'\r') {
            return Cow::Borrowed(v);
        }
        let mut out = Vec::with_capacity(v.len());
        let mut i = 0;
        while i < v.len() {
            if v[i] == b'\r' && v.get(i + 1) == Some(&b'\n') {
                let j = scan::skip_lws(v, i);
                if j > i {
                    while out.last().is_some_and(|b| scan::is_wsp(*b)) {
                        out.pop();
                    }
                    out.push(b' ');
                    i = j;
                    continue;
                }
            }
            out.push(v[i]);
            i += 1;
        }
        Cow::Owned(out)
    }

    /// Converts into a header that owns its bytes.
    pub fn into_owned(self) -> Header<'static> {
        Header {
            name: Cow::Owned(self.name.into_owned()),
            kind: self.kind,
            value: Cow::Owned(self.value.into_owned()),
        }
    }
}

/// The header section of a message, in received order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers<'a>(pub(crate) Vec<Header<'a>>);

impl<'a> Headers<'a> {
    /// An empty header section.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// All headers in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Header<'a>> {
        self.0.iter()
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no header.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first header with this name.
    pub fn get(&self, name: HeaderName) -> Option<&Header<'a>> {
        self.0.iter().find(|h| h.kind() == name)
    }

    /// Every header line with this name, in order.
    pub fn get_all(&self, name: HeaderName) -> impl Iterator<Item = &Header<'a>> + '_ {
        self.0.iter().filter(move |h| h.kind() == name)
    }

    /// The first header whose raw name matches `name` case-insensitively (for extension
    /// headers; compact forms are not applied).
    pub fn get_raw(&self, name: &[u8]) -> Option<&Header<'a>> {
        self.0.iter().find(|h| h.name().eq_ignore_ascii_case(name))
    }

    /// Every comma-separated value of every header line with this name (RFC 3261 §7.3.1).
    /// `None` when a line has an empty element (`a,,b`).
    pub fn values(&self, name: HeaderName) -> Option<Vec<&[u8]>> {
        let mut out = Vec::new();
        for h in self.get_all(name) {
            out.extend(scan::split_commas(&h.value)?);
        }
        Some(out)
    }

    /// Appends a header.
    pub fn push(&mut self, header: Header<'a>) {
        self.0.push(header);
    }

    /// Inserts a header before all others (e.g. a new top Via, RFC 3261 §16.6 step 8).
    pub fn push_front(&mut self, header: Header<'a>) {
        self.0.insert(0, header);
    }

    /// Removes every header with this name; returns how many were removed.
    pub fn remove(&mut self, name: HeaderName) -> usize {
        let before = self.0.len();
        self.0.retain(|h| h.kind() != name);
        before - self.0.len()
    }

    /// Replaces every header of this name by one header with this value.
    pub fn set(&mut self, name: HeaderName, value: impl Into<Cow<'a, [u8]>>) {
        let canonical = name.as_str().unwrap_or("X-Unknown");
        let header = Header::new(canonical.as_bytes(), value.into());
        match self.0.iter().position(|h| h.kind() == name) {
            Some(pos) => {
                self.0[pos] = header;
                let mut seen = 0;
                self.0.retain(|h| {
                    if h.kind() == name {
                        seen += 1;
                        seen == 1
                    } else {
                        true
                    }
                });
                // The first occurrence is the one just written; later ones are dropped.
            }
            None => self.0.push(header),
        }
    }

    /// Converts into headers that own their bytes.
    pub fn into_owned(self) -> Headers<'static> {
        Headers(self.0.into_iter().map(Header::into_owned).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_forms() {
        for (n, k) in [
            ("i", HeaderName::CallId),
            ("f", HeaderName::From),
            ("T", HeaderName::To),
            ("v", HeaderName::Via),
            ("m", HeaderName::Contact),
            ("l", HeaderName::ContentLength),
            ("c", HeaderName::ContentType),
            ("k", HeaderName::Supported),
            ("s", HeaderName::Subject),
            ("e", HeaderName::ContentEncoding),
            ("o", HeaderName::Event),
            ("MaX-fOrWaRdS", HeaderName::MaxForwards),
            ("C%6Fntact", HeaderName::Other),
        ] {
            assert_eq!(HeaderName::from_bytes(n.as_bytes()), k, "{n}");
        }
    }

    #[test]
    fn unfolding_joins_lines() {
        let h = Header::new(&b"X"[..], &b"a  \r\n  b\r\n\tc"[..]);
        assert_eq!(&*h.unfolded(), b"a b c");
    }

    #[test]
    fn set_replaces_all() {
        let mut hs = Headers::new();
        hs.push(Header::new(&b"l"[..], &b"1"[..]));
        hs.push(Header::new(&b"X"[..], &b"y"[..]));
        hs.push(Header::new(&b"Content-Length"[..], &b"2"[..]));
        hs.set(HeaderName::ContentLength, &b"0"[..]);
        assert_eq!(hs.len(), 2);
        assert_eq!(&*hs.get(HeaderName::ContentLength).unwrap().value, b"0");
    }
}
