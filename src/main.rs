//! The `rtcgate` executable; everything lives in the library (`src/lib.rs`).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    rtcgate::main()
}
