//! The JSON output.

use std::fmt::Write as _;

use crate::Outcome;

pub(crate) fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{}", (v * 1000.0).round() / 1000.0),
        _ => "null".into(),
    }
}

pub(crate) fn sci(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:e}"),
        _ => "null".into(),
    }
}

pub(crate) fn diff(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

pub(crate) fn outcome_json(o: &Outcome) -> String {
    let best = o.best.and_then(|i| o.trials.get(i));
    let engine = o.name.starts_with("engine");
    let (p50, p99) = if engine {
        (diff(o.path.0, o.baseline.0), diff(o.path.1, o.baseline.1))
    } else {
        o.path
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\"name\":\"{}\",\"backend\":\"{}\",\"max_pps_under_1pct_loss\":{},\
         \"generator_limited\":{},\"limited_by\":\"{}\",\"cpu_seconds_per_packet\":{},\
         \"generator_cpu_seconds_per_packet\":{},\"sink_cpu_seconds_per_packet\":{},\
         \"vs_bare\":{},\"vs_bare_same_backend\":{},\"latency_load_pps\":{},\
         \"latency_p50_us\":{},\"latency_p99_us\":{},\"path_latency_p50_us\":{},\
         \"path_latency_p99_us\":{},\"baseline_p50_us\":{},\"baseline_p99_us\":{},\
         \"cpu_seconds_per_packet_at_latency_load\":{},\
         \"baseline_cpu_seconds_per_packet_at_latency_load\":{},\"cpu_vs_bare_same_rate\":{},\
         \"trials\":[",
        o.name,
        o.backend,
        num(o.max_pps()),
        best.is_some_and(|t| t.generator_limited),
        o.limited_by(),
        sci(best.map(|t| t.per_packet(t.cpu_ns))),
        sci(best.map(|t| t.per_packet(t.gen_cpu_ns))),
        sci(best.map(|t| t.per_packet(t.sink_cpu_ns))),
        num(o.vs_bare),
        num(o.vs_same),
        num(o.latency_load),
        num(p50),
        num(p99),
        num(o.path.0),
        num(o.path.1),
        num(o.baseline.0),
        num(o.baseline.1),
        sci(o.same_rate_cpu.map(|c| c.0)),
        sci(o.same_rate_cpu.map(|c| c.1)),
        num(o.same_rate_cpu.map(|(e, b)| b / e)),
    );
    for (i, t) in o.trials.iter().enumerate() {
        let _ = write!(
            s,
            "{}{{\"asked_pps\":{},\"offered_pps\":{},\"sent\":{},\"delivered\":{},\"late\":{},\
             \"loss\":{},\"generator_limited\":{},\"cpu_seconds_per_packet\":{},\
             \"target_cpu_busy\":{},\"load_cpu_busy\":{}}}",
            if i == 0 { "" } else { "," },
            num(Some(t.asked_pps.round())),
            num(Some(t.offered_pps.round())),
            t.sent,
            t.delivered,
            t.late,
            sci(Some(t.loss())),
            t.generator_limited,
            sci(Some(t.per_packet(t.cpu_ns))),
            num(Some(t.target_busy())),
            num(Some(t.load_busy())),
        );
    }
    s.push(']');
    if let Some(st) = o.stats {
        let _ = write!(
            s,
            ",\"worker_stats\":{{\"received\":{},\"sent\":{},\"send_failed\":{},\"recv_errors\":{}}}",
            st.received, st.sent, st.send_failed, st.recv_errors
        );
    }
    s.push('}');
    s
}
