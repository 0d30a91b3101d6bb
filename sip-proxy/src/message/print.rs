//! Printing into a caller's buffer (RFC 3261 §7). Header names and values are written as
//! they are held, so a header the gateway did not touch goes out byte for byte.

use super::{Headers, Request, Response};

fn write_headers_and_body(headers: &Headers<'_>, body: &[u8], out: &mut Vec<u8>) {
    for h in headers.iter() {
        out.extend_from_slice(h.name());
        out.push(b':');
        if !h.value.is_empty() {
            out.push(b' ');
            out.extend_from_slice(&h.value);
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

impl Request<'_> {
    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.uri);
        out.extend_from_slice(b" SIP/2.0\r\n");
        write_headers_and_body(&self.headers, &self.body, out);
    }
}

impl Response<'_> {
    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"SIP/2.0 ");
        let code = [
            b'0' + (self.status / 100 % 10) as u8,
            b'0' + (self.status / 10 % 10) as u8,
            b'0' + (self.status % 10) as u8,
        ];
        out.extend_from_slice(&code);
        out.push(b' ');
        out.extend_from_slice(&self.reason);
        out.extend_from_slice(b"\r\n");
        write_headers_and_body(&self.headers, &self.body, out);
    }
}
