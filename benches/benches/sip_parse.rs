//! Parse + print of a typical IMS INVITE with SDP and of a 200 OK
//! (`cargo bench -p benches --bench sip_parse`).
//!
//! "parse" is `Message::parse` on the datagram (framing, start line and the checks of the
//! headers the stack relies on); "parse+views" also reads the typed views a transaction and
//! dialog need (top Via, From/To tags, CSeq, Call-ID, Contact); "print" writes into a
//! reused buffer.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sip_proxy::message::Message;

const INVITE: &[u8] = b"INVITE sip:+15551234567@ims.example.net;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---77ba2b3d5c1f;rport\r\n\
Max-Forwards: 70\r\n\
Route: <sip:pcscf.ims.example.net:5060;lr>\r\n\
Contact: <sip:rtcgate-7f3a@192.0.2.10:5060;transport=udp>;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\"\r\n\
To: <tel:+15551234567>\r\n\
From: \"Alice\" <sip:+15550001111@ims.example.net>;tag=8f2c1e7a\r\n\
Call-ID: 3c26701c6a9e4b8f@192.0.2.10\r\n\
CSeq: 1 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, BYE, PRACK, UPDATE, OPTIONS, INFO, MESSAGE, NOTIFY\r\n\
Supported: 100rel, timer, replaces\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Min-SE: 90\r\n\
P-Preferred-Identity: <sip:+15550001111@ims.example.net>\r\n\
P-Access-Network-Info: IEEE-802.11;i-wlan-node-id=ffffffffffff\r\n\
Accept-Contact: *;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\"\r\n\
User-Agent: rtcgate\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 353\r\n\
\r\n\
v=0\r\n\
o=rtcgate 1700000000 1700000000 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
b=AS:84\r\n\
t=0 0\r\n\
m=audio 40000 RTP/SAVP 8 0 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoZ\r\n\
a=sendrecv\r\n\
a=rtcp:40001\r\n";

const OK: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---77ba2b3d5c1f;rport=5060;received=192.0.2.10\r\n\
Record-Route: <sip:scscf.ims.example.net;lr>\r\n\
Record-Route: <sip:pcscf.ims.example.net:5060;lr>\r\n\
To: <tel:+15551234567>;tag=as4b2d1f7e\r\n\
From: \"Alice\" <sip:+15550001111@ims.example.net>;tag=8f2c1e7a\r\n\
Call-ID: 3c26701c6a9e4b8f@192.0.2.10\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:+15551234567@198.51.100.20:5060>\r\n\
Require: timer\r\n\
Session-Expires: 1800;refresher=uac\r\n\
P-Asserted-Identity: <tel:+15551234567>\r\n\
Content-Length: 0\r\n\
\r\n";

fn views(m: &Message<'_>) -> usize {
    let h = m.headers();
    let via = h.top_via().map_or(0, |v| v.branch().map_or(0, <[u8]>::len));
    let tags = h.from().and_then(|f| f.tag().map(<[u8]>::len)).unwrap_or(0)
        + h.to().and_then(|t| t.tag().map(<[u8]>::len)).unwrap_or(0);
    let cseq = h.cseq().map_or(0, |c| c.seq as usize);
    let contact = h.contacts().map_or(0, |c| c.len());
    via + tags + cseq + contact + h.call_id().map_or(0, <[u8]>::len)
}

fn bench_message(c: &mut Criterion, name: &str, bytes: &'static [u8]) {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| Message::parse(black_box(bytes)).is_ok())
    });
    g.bench_function("parse+views", |b| {
        b.iter(|| {
            Message::parse(black_box(bytes))
                .map(|m| views(&m))
                .unwrap_or(0)
        })
    });
    let msg = Message::parse(bytes).expect("the bench message is valid");
    let mut out = Vec::with_capacity(2048);
    g.bench_function("print", |b| {
        b.iter(|| {
            out.clear();
            black_box(&msg).write_to(&mut out);
            out.len()
        })
    });
    g.bench_function("parse+print", |b| {
        b.iter(|| {
            out.clear();
            if let Ok(m) = Message::parse(black_box(bytes)) {
                m.write_to(&mut out);
            }
            out.len()
        })
    });
    g.finish();
}

fn sip_parse(c: &mut Criterion) {
    bench_message(c, "ims_invite_sdp", INVITE);
    bench_message(c, "ok_200", OK);
}

criterion_group!(benches, sip_parse);
criterion_main!(benches);
