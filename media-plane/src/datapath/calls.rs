//! Where a worker keeps its calls, and how a datagram finds its call without hashing.
//!
//! ```text
//!  local port ──PortTable (65536 entries, direct index)──► PortUse { Ims | Rtcp | Web }(slot)
//!  web remote ──HashMap<SocketAddr, Slot>──────────────────► slot      (fixed-remote web legs)
//!  slot ──Calls::slots[slot]──► Call (session, ports, WebRTC state)
//!  CallId ──Calls::by_id──► slot                                        (commands only)
//! ```
//!
//! At a thousand calls the per-packet cost was dominated by finding the call: three
//! SipHash lookups (local port, web remote, call id) each missing the cache on a table
//! entry, then the call itself out of a hash table of ~1 KB entries. Now the IMS leg's
//! port indexes a flat table straight to the slot and the web leg's remote hashes once;
//! the call id is looked up by commands and by the shared web port's ICE demux (whose
//! key it is), with a one-multiply hash. A slot is reused only after every table
//! entry naming it was removed ([`Calls::remove`] is called from `Worker::forget`, which
//! clears them first), so a slot found on the packet path is always its call's.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::worker::Call;
use super::CallId;

/// Index of a call in [`Calls`].
pub(super) type Slot = u32;

/// The calls of one worker, in slots.
#[derive(Debug, Default)]
pub(super) struct Calls {
    slots: Vec<Option<Call>>,
    free: Vec<Slot>,
    by_id: HashMap<CallId, Slot, BuildHasherDefault<IdHasher>>,
}

/// Hashes a [`CallId`] with one multiply (Fibonacci hashing). Call ids come from the
/// control plane, never from a peer, so a keyed (DoS-resistant) hash buys nothing here,
/// and the WebRTC leg's packets look their call up by id (the demux table's key).
#[derive(Debug, Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl Calls {
    /// Puts `call` in a free slot (replacing nothing: the caller released `id` first).
    pub(super) fn insert(&mut self, call: Call) -> Slot {
        let id = call.id;
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(call);
                s
            }
            None => {
                self.slots.push(Some(call));
                (self.slots.len() - 1) as Slot
            }
        };
        self.by_id.insert(id, slot);
        slot
    }

    /// Takes the call `id` out; its slot is free for the next [`Calls::insert`].
    pub(super) fn remove(&mut self, id: CallId) -> Option<(Slot, Call)> {
        let slot = self.by_id.remove(&id)?;
        let call = self.slots.get_mut(slot as usize)?.take()?;
        self.free.push(slot);
        Some((slot, call))
    }

    /// The slot of call `id`.
    pub(super) fn slot(&self, id: CallId) -> Option<Slot> {
        self.by_id.get(&id).copied()
    }

    pub(super) fn get(&self, id: CallId) -> Option<&Call> {
        self.at(self.slot(id)?)
    }

    pub(super) fn get_mut(&mut self, id: CallId) -> Option<&mut Call> {
        let slot = self.slot(id)?;
        self.at_mut(slot)
    }

    /// The call in `slot` (the packet path: no hashing).
    pub(super) fn at(&self, slot: Slot) -> Option<&Call> {
        self.slots.get(slot as usize)?.as_ref()
    }

    pub(super) fn at_mut(&mut self, slot: Slot) -> Option<&mut Call> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Call> {
        self.slots.iter().flatten()
    }

    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Call> {
        self.slots.iter_mut().flatten()
    }
}

/// What a local port of the worker is (the shared web port is not in the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PortUse {
    /// The RTP port of a call's IMS leg.
    Ims(Slot),
    /// The IMS leg's RTCP port (port+1, no rtcp-mux).
    Rtcp(Slot),
    /// A call's own web port (`Command::OpenWebPort`).
    Web(Slot),
}

const KIND_SHIFT: u32 = 30;
const SLOT_MASK: u32 = (1 << KIND_SHIFT) - 1;
const IMS: u32 = 1;
const RTCP: u32 = 2;
const WEB: u32 = 3;

/// Local port → [`PortUse`], one `u32` per port (256 KiB; a lookup touches one cache
/// line, a hash table's touched two and hashed first).
#[derive(Debug)]
pub(super) struct PortTable(Box<[u32]>);

impl Default for PortTable {
    fn default() -> Self {
        Self(vec![0; 1 << 16].into_boxed_slice())
    }
}

impl PortTable {
    pub(super) fn get(&self, port: u16) -> Option<PortUse> {
        let v = self.0[usize::from(port)];
        let slot = v & SLOT_MASK;
        match v >> KIND_SHIFT {
            IMS => Some(PortUse::Ims(slot)),
            RTCP => Some(PortUse::Rtcp(slot)),
            WEB => Some(PortUse::Web(slot)),
            _ => None,
        }
    }

    pub(super) fn contains(&self, port: u16) -> bool {
        self.0[usize::from(port)] != 0
    }

    /// Sets `port`'s use. Slots stay below 2^30 (the table holds at most 65536 ports).
    pub(super) fn set(&mut self, port: u16, to: PortUse) {
        let (kind, slot) = match to {
            PortUse::Ims(s) => (IMS, s),
            PortUse::Rtcp(s) => (RTCP, s),
            PortUse::Web(s) => (WEB, s),
        };
        self.0[usize::from(port)] = (kind << KIND_SHIFT) | (slot & SLOT_MASK);
    }

    pub(super) fn clear(&mut self, port: u16) {
        self.0[usize::from(port)] = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_table_round_trips_each_use() {
        let mut t = PortTable::default();
        assert_eq!(t.get(5004), None);
        for u in [PortUse::Ims(0), PortUse::Rtcp(7), PortUse::Web(SLOT_MASK)] {
            t.set(5004, u);
            assert_eq!(t.get(5004), Some(u));
            assert!(t.contains(5004));
        }
        t.clear(5004);
        assert_eq!(t.get(5004), None);
        assert!(!t.contains(5004));
    }
}
