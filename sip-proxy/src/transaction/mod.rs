//! RFC 3261 §17 transactions, sans-IO.

mod key;

pub use key::TransactionKey;
