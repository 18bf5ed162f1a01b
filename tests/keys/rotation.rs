//! A master key rotation run step by step, as the README tells an operator, while two
//! `tether serve` processes on one database answer token requests (some forcing a refresh,
//! which seals new tokens): no request fails, through add, promote, re-encrypt and retire.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::harness::{Api, Options, Scenario, eventually_contains, exclusive};
use crate::{added_key_id, first_key_id, values_under};

/// What one client saw: answers 200, and every other answer.
struct Seen {
    ok: u64,
    failures: Vec<String>,
}

/// Token requests for `id` until `stop`, forcing a refresh every `force_every`-th one.
async fn client(api: Api, id: String, force_every: Option<u64>, stop: Arc<AtomicBool>) -> Seen {
    let mut seen = Seen {
        ok: 0,
        failures: Vec::new(),
    };
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let force = force_every.is_some_and(|every| n % every == 0);
        match api.try_token(&id, force, Duration::from_secs(30)).await {
            Ok(answer) if answer.status == 200 => seen.ok += 1,
            Ok(answer) => seen.failures.push(format!("{} {id}: {answer}", api.base)),
            Err(err) => seen.failures.push(format!("{} {id}: {err}", api.base)),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    seen
}

/// Runs a `tether keys` step without holding up the clients' tasks.
fn step(s: &Scenario, args: &[&str]) -> String {
    tokio::task::block_in_place(|| s.tether.run(args))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_in_steps_while_two_servers_run_fails_no_token_request() {
    let _turn = exclusive().await;
    let s = Scenario::start(Options::rotation(false).with_key_file()).await;
    let a = s.connect_new_user("alice").await;
    let b = s.connect_new_user("bob").await;
    let mut second = s.tether.sibling("tether-2");
    second.start().await;
    let (one, two) = (s.api.clone(), s.api.at(&second.base));

    let stop = Arc::new(AtomicBool::new(false));
    let clients = [
        (one.clone(), a.clone(), Some(10)),
        (one.clone(), b.clone(), None),
        (two.clone(), a.clone(), None),
        (two.clone(), b.clone(), Some(10)),
    ]
    .map(|(api, id, force)| tokio::spawn(client(api, id, force, stop.clone())));

    let old = first_key_id();
    let new = added_key_id(&step(&s, &["keys", "add-master"]));
    // The README: give every server the file and send it SIGHUP. The first server is not
    // signalled: it reads the file when it first meets a value under the new key.
    second.hangup();
    eventually_contains(
        "the second server re-reads its keyring",
        Duration::from_secs(10),
        "master keyring re-read",
        || std::fs::read_to_string(s.dir().join("tether-2.log")).unwrap_or_default(),
    )
    .await;
    step(&s, &["keys", "promote-master", &new]);
    let reencrypted = step(&s, &["keys", "reencrypt", "--batch-size", "1"]);
    assert!(reencrypted.contains("re-encrypted 1 of "), "{reencrypted}");
    let retired = step(&s, &["keys", "retire-master", &old]);
    assert!(
        retired.contains(&format!("retired master key {old}")),
        "{retired}"
    );
    // A little more traffic after the old key is gone.
    tokio::time::sleep(Duration::from_secs(2)).await;

    stop.store(true, Ordering::Relaxed);
    let mut ok = Vec::new();
    let mut failures = Vec::new();
    for handle in clients {
        let seen = handle.await.expect("client task");
        ok.push(seen.ok);
        failures.extend(seen.failures);
    }
    assert!(failures.is_empty(), "failed requests: {failures:#?}");
    assert!(
        ok.iter().all(|n| *n >= 20),
        "every client kept asking: {ok:?}"
    );

    let status = step(&s, &["keys", "status"]);
    assert!(status.contains(&format!("{new}  primary")), "{status}");
    assert!(status.contains(&format!("{old}  retired")), "{status}");
    assert_eq!(values_under(&status, &old), 0, "{status}");
    let keyring = std::fs::read_to_string(s.tether.key_file().expect("a keyring file")).unwrap();
    assert_eq!(
        keyring.lines().filter(|l| !l.starts_with('#')).count(),
        1,
        "only the new key is left in the file"
    );

    // A server started now, with the file as it is, serves.
    second.kill9();
    second.start().await;
    assert_eq!(two.token(&a, true).await.status, 200);
}
