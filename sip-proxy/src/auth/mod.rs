//! SIP authentication (RFC 3261 §22). The client side answers Digest challenges.

pub mod digest;
