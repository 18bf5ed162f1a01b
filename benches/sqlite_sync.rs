//! What `synchronous=FULL` costs tether's SQLite writes, next to `NORMAL`, in one run.
//!
//! ```sh
//! cargo bench --bench sqlite_sync [-- --commits N]
//! ```
//!
//! Each mode gets its own database file in WAL mode (as tether opens it) and one connection;
//! N commits each rewrite one row holding a 600-byte sealed-token-sized value (a landed
//! refresh is one such transaction). With FULL, SQLite syncs the WAL at every commit, so a
//! committed rotation survives a power loss; with NORMAL the last commits can roll back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a panic is the failure report

use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

fn main() {
    let commits = parse(std::env::args().skip(1)).unwrap_or_else(|problem| {
        eprintln!("{problem}\nusage: cargo bench --bench sqlite_sync [-- --commits N]");
        std::process::exit(2)
    });
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut results = Vec::new();
    for (name, mode) in [
        ("NORMAL", SqliteSynchronous::Normal),
        ("FULL", SqliteSynchronous::Full),
    ] {
        let path = dir.path().join(format!("{name}.db"));
        let took = runtime.block_on(commit_loop(&path, mode, commits));
        results.push((name, took));
    }
    println!("synchronous mode, {commits} commits each, one connection, WAL");
    for (name, took) in &results {
        println!(
            "{name:>6}: {:.3} ms per commit ({:.0} commits/s)",
            per_commit_ms(*took, commits),
            f64::from(commits) / took.as_secs_f64()
        );
    }
    let (normal, full) = (results[0].1, results[1].1);
    println!(
        "FULL / NORMAL: {:.1}x the time per commit",
        full.as_secs_f64() / normal.as_secs_f64()
    );
}

async fn commit_loop(path: &std::path::Path, mode: SqliteSynchronous, commits: u32) -> Duration {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(mode);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("sqlite");
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL, n INTEGER NOT NULL)")
        .execute(&pool)
        .await
        .expect("table");
    sqlx::query("INSERT INTO t (id, v, n) VALUES (1, ?, 0)")
        .bind(vec![0_u8; 600])
        .execute(&pool)
        .await
        .expect("row");
    let started = Instant::now();
    for n in 0..commits {
        let value = vec![u8::try_from(n % 251).unwrap_or(0); 600];
        sqlx::query("UPDATE t SET v = ?, n = n + 1 WHERE id = 1")
            .bind(value)
            .execute(&pool)
            .await
            .expect("update");
    }
    let took = started.elapsed();
    pool.close().await;
    took
}

fn per_commit_ms(took: Duration, commits: u32) -> f64 {
    took.as_secs_f64() * 1000.0 / f64::from(commits)
}

/// `--commits N` (default 2000); `--bench`, which `cargo bench` adds, is ignored.
fn parse(mut args: impl Iterator<Item = String>) -> Result<u32, String> {
    let mut commits = 2000;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--commits" => {
                commits = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--commits needs a positive number")?;
            }
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(commits)
}
