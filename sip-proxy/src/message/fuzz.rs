//! The body of the `sip_message` fuzz target, kept in the crate so the corpus replay test
//! and the fuzzer run the same code.

use super::Message;

/// Why a round trip failed; the fuzz target panics on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundtripError {
    /// The printed form of a parsed message does not parse.
    Reparse(super::Error),
    /// The printed form parses to a different message.
    Mismatch,
}

/// Parse → print → parse: a message that parses must print to bytes that parse to an equal
/// message. Input that does not parse is fine (only panics and mismatches are bugs).
pub fn roundtrip(data: &[u8]) -> Result<(), RoundtripError> {
    let Ok(first) = Message::parse(data) else {
        return Ok(());
    };
    let mut printed = Vec::with_capacity(data.len() + 16);
    first.write_to(&mut printed);
    let second = Message::parse(&printed).map_err(RoundtripError::Reparse)?;
    if first == second {
        Ok(())
    } else {
        Err(RoundtripError::Mismatch)
    }
}
