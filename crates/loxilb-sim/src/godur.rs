//! Go's `time.Duration` text form (`"0s"`, `"850µs"`, `"1.25ms"`, `"1m30s"`), which LoxiLB
//! uses for the endpoint delay fields (`fmt.Sprintf("%v", d)`).

use std::time::Duration;

/// Format like Go's `Duration.String()`.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_string();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return frac(ns, 1_000, 3, "µs");
    }
    if ns < 1_000_000_000 {
        return frac(ns, 1_000_000, 6, "ms");
    }
    let secs_ns = ns % 60_000_000_000;
    let mins = ns / 60_000_000_000;
    let secs = frac(secs_ns, 1_000_000_000, 9, "s");
    if mins == 0 {
        return secs;
    }
    let (h, m) = (mins / 60, mins % 60);
    if h == 0 {
        format!("{m}m{secs}")
    } else {
        format!("{h}h{m}m{secs}")
    }
}

fn frac(v: u128, unit: u128, width: usize, suffix: &str) -> String {
    let (int, rem) = (v / unit, v % unit);
    if rem == 0 {
        return format!("{int}{suffix}");
    }
    let digits = format!("{rem:0width$}");
    format!("{int}.{}{suffix}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_formatting() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_nanos(999)), "999ns");
        assert_eq!(go_duration(Duration::from_micros(850)), "850µs");
        assert_eq!(go_duration(Duration::from_nanos(1_250_000)), "1.25ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
    }
}
