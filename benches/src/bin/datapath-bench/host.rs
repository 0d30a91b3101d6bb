//! Threads of this process: names, CPU time, placement (`taskset`, `chrt`, `renice`).

use crate::Result;

/// (tid, name) of this process's threads.
pub(crate) fn threads() -> Vec<(u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut v: Vec<(u32, String)> = dir
        .flatten()
        .filter_map(|e| {
            let tid = e.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            Some((tid, comm.trim_end().to_string()))
        })
        .collect();
    v.sort_unstable();
    v
}

/// Nanoseconds on CPU of thread `tid` of this process.
pub(crate) fn tid_cpu_ns(tid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Nanoseconds on CPU of the threads whose name starts with one of `names`.
pub(crate) fn cpu_ns(names: &[&str]) -> u64 {
    threads()
        .iter()
        .filter(|(_, n)| names.iter().any(|p| n.starts_with(p)))
        .map(|(t, _)| tid_cpu_ns(*t))
        .sum()
}

/// Where and how the bench's own threads run.
#[derive(Clone, Copy)]
pub(crate) struct Placement {
    /// Pin (generator and sink on CPU 0, targets on 1..); false: the scheduler decides.
    pub(crate) pin: bool,
    pub(crate) cpus: usize,
    pub(crate) sched: Sched,
}

/// Scheduling class of the bench's threads (generator, sink, targets).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sched {
    /// SCHED_FIFO priority 10 (`chrt`): every thread of the bench blocks or sleeps
    /// between batches, so nothing starves, and builds running on the same host no
    /// longer decide the loss and the latency.
    Fifo,
    /// nice -20 (`renice`).
    Nice,
    /// As started.
    None,
}

impl Sched {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Fifo => "SCHED_FIFO 10",
            Self::Nice => "nice -20",
            Self::None => "as started",
        }
    }
}

pub(crate) fn run_tool(prog: &str, args: &[String]) -> Result<()> {
    let st = std::process::Command::new(prog)
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("{prog}: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!(
            "{prog} {} failed (see --help: --no-pin, --sched none)",
            args.join(" ")
        ))
    }
}

/// Pins thread `tid` to `cpu` and sets its scheduling, as `p` says.
pub(crate) fn place(tid: u32, cpu: usize, p: Placement) -> Result<()> {
    if p.pin {
        run_tool(
            "taskset",
            &["-p".into(), "-c".into(), cpu.to_string(), tid.to_string()],
        )?;
    }
    if p.sched == Sched::Nice {
        run_tool(
            "renice",
            &["-n".into(), "-20".into(), "-p".into(), tid.to_string()],
        )?;
    }
    if p.sched == Sched::Fifo {
        run_tool(
            "chrt",
            &["-f".into(), "-p".into(), "10".into(), tid.to_string()],
        )?;
    }
    Ok(())
}

/// Places the threads named `name` on CPUs 1, 2, … (one each, wrapping before CPU 0).
pub(crate) fn place_targets(name: &str, p: Placement) -> Result<()> {
    let cpus = p.cpus.max(2);
    let tids = threads().into_iter().filter(|(_, n)| n == name);
    for (k, (tid, _)) in tids.enumerate() {
        place(tid, 1 + k % (cpus - 1), p)?;
    }
    Ok(())
}
