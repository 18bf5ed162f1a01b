//! wrk, run as a separate process (`apt-get install wrk`), and its report read back.

use std::path::Path;
use std::process::Command;

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub rps: f64,
    /// Median latency, ms.
    pub p50: f64,
    /// 99th percentile latency, ms.
    pub p99: f64,
}

/// `wrk -t2 -c{connections} -d10s --latency [-s script] url`; fails on any non-2xx answer.
pub fn wrk(url: &str, script: Option<&Path>, connections: usize) -> Load {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", &format!("-c{connections}"), "-d10s", "--latency"]);
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    let out = cmd
        .arg(url)
        .output()
        .expect("wrk is installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains("Non-2xx"), "errors under load:\n{text}");
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
    };
    Load {
        rps: field("Requests/sec:").parse().unwrap(),
        p50: ms(&field("50%")),
        p99: ms(&field("99%")),
    }
}

/// wrk's `12.3us` / `4.5ms` / `1.2s` in milliseconds.
fn ms(value: &str) -> f64 {
    let (number, factor) = if let Some(v) = value.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = value.strip_suffix("ms") {
        (v, 1.0)
    } else {
        (value.trim_end_matches('s'), 1000.0)
    };
    number.parse::<f64>().unwrap() * factor
}
