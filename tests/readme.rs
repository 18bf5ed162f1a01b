//! The README's sandbox walk-through works as written: its fenced block is run with bash,
//! with the freshly built `tether` first on PATH.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::Path;
use std::process::Command;

fn walkthrough() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme
        .find("<!-- walkthrough:start -->")
        .expect("start marker");
    let end = readme.find("<!-- walkthrough:end -->").expect("end marker");
    let block = &readme[start..end];
    let body_start = block.find("```bash\n").expect("bash fence") + "```bash\n".len();
    let body_end = block.rfind("```").expect("closing fence");
    block[body_start..body_end].to_owned()
}

#[test]
fn the_readme_sandbox_walkthrough_runs_as_written() {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_tether"))
        .parent()
        .expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &walkthrough()])
        .current_dir(dir.path())
        .env("PATH", path)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "walk-through failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("sandbox listening on http://127.0.0.1:7879"),
        "{stdout}"
    );
    assert!(stdout.contains(r#""totalSize":2"#), "{stdout}");
    assert!(
        stdout.contains(
            r#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""grant_type":"refresh_token""#),
        "{stdout}"
    );
}
