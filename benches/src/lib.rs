//! # benches — performance evidence for rtcgate
//!
//! ```text
//!   benches/benches/*.rs   criterion micro-benchmarks of the hot paths (cargo bench -p benches)
//!   benches/src/bin/*.rs   load generators run against the real engine (cargo run -p benches)
//! ```
//!
//! This library holds what the benchmarks share: packet builders and fixtures.
#![warn(missing_docs)]
