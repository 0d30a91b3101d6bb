//! Transaction keys: how requests and responses find their transaction
//! (RFC 3261 §17.1.3 client side, §17.2.3 server side, with the RFC 2543 fallback).

use crate::message::{Method, Request, Response};

/// Identifies one transaction in a [`super::TransactionLayer`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransactionKey {
    /// RFC 3261 §17.2.3: the top Via branch (with the magic cookie), its sent-by, and the
    /// method (ACK is folded into INVITE). Client keys leave `sent_by` empty
    /// (§17.1.3 matches on branch and CSeq method only).
    Rfc3261 {
        /// The branch parameter.
        branch: Vec<u8>,
        /// `host[:port]` of the top Via, host lowercased; empty for client keys.
        sent_by: Vec<u8>,
        /// The method the transaction was created for.
        method: Method,
    },
    /// RFC 3261 §17.2.3 fallback for requests without an RFC 3261 branch (RFC 2543 peers,
    /// RFC 4475 §3.2.1, §3.4.1). The To tag is left out for INVITE and ACK because the ACK
    /// carries the tag of our response, which the INVITE did not have.
    Rfc2543 {
        /// Request-URI as received.
        request_uri: Vec<u8>,
        /// From tag (empty when absent).
        from_tag: Vec<u8>,
        /// To tag (empty for INVITE/ACK, see above).
        to_tag: Vec<u8>,
        /// Call-ID.
        call_id: Vec<u8>,
        /// CSeq number.
        cseq: u32,
        /// Method (ACK folded into INVITE).
        method: Method,
        /// The whole top Via value, unfolded.
        top_via: Vec<u8>,
    },
}

/// ACK belongs to the INVITE transaction it acknowledges (RFC 3261 §17.2.3).
fn fold_ack(m: &Method) -> Method {
    if *m == Method::Ack {
        Method::Invite
    } else {
        m.clone()
    }
}

impl TransactionKey {
    /// The server transaction key of an incoming request.
    pub fn for_server(req: &Request<'_>) -> Option<Self> {
        let via = req.headers.top_via()?;
        let method = fold_ack(&req.method);
        if via.has_rfc3261_branch() {
            let mut sent_by = via.host.to_ascii_lowercase();
            if let Some(p) = via.port {
                sent_by.extend_from_slice(format!(":{p}").as_bytes());
            }
            let branch = via.branch()?.to_vec();
            return Some(TransactionKey::Rfc3261 {
                branch,
                sent_by,
                method,
            });
        }
        let to_tag = match method {
            Method::Invite => Vec::new(),
            _ => req.headers.to()?.tag().unwrap_or_default().to_vec(),
        };
        let top = req.headers.get(crate::message::HeaderName::Via)?;
        let top_via = crate::message::scan::split_commas(&top.value)?
            .first()?
            .to_vec();
        Some(TransactionKey::Rfc2543 {
            request_uri: req.uri.to_vec(),
            from_tag: req.headers.from()?.tag().unwrap_or_default().to_vec(),
            to_tag,
            call_id: req.headers.call_id()?.to_vec(),
            cseq: req.headers.cseq()?.seq,
            method,
            top_via,
        })
    }

    /// The client transaction key of a request we send (branch + method).
    pub fn for_client_request(req: &Request<'_>) -> Option<Self> {
        let branch = req.headers.top_via()?.branch()?.to_vec();
        Some(TransactionKey::Rfc3261 {
            branch,
            sent_by: Vec::new(),
            method: req.method.clone(),
        })
    }

    /// The client transaction key a response belongs to: top Via branch + CSeq method
    /// (RFC 3261 §17.1.3).
    pub fn for_response(resp: &Response<'_>) -> Option<Self> {
        let branch = resp.headers.top_via()?.branch()?.to_vec();
        let method = resp.headers.cseq()?.method();
        Some(TransactionKey::Rfc3261 {
            branch,
            sent_by: Vec::new(),
            method,
        })
    }

    /// The same key for another method: used to find the INVITE a CANCEL targets
    /// (RFC 3261 §9.2).
    pub fn with_method(&self, method: Method) -> Self {
        let mut k = self.clone();
        match &mut k {
            TransactionKey::Rfc3261 { method: m, .. }
            | TransactionKey::Rfc2543 { method: m, .. } => *m = method,
        }
        k
    }
}
