//! Two cron runs of the same playbook never overlap.

use std::process::Stdio;
use std::time::Duration;

use crate::harness::{Env, stderr, wait_for};

fn lock_file(env: &Env) -> std::path::PathBuf {
    let dir = env.state().join("locks");
    std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

#[test]
fn a_second_run_is_refused_while_the_first_holds_the_lock() {
    let env = Env::new();
    let gate = env.path("gate");
    let p = env.write(
        "slow.yaml",
        &format!("kind: check\nchecks:\n  - probe: {{ command: \"while [ ! -e {} ]; do sleep 0.05; done\", timeout: 30s }}\n", gate.display()),
    );
    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("tend"))
        .arg("check")
        .arg(&p)
        .env("TEND_STATE_DIR", env.state())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        "the first run to take the lock",
        Duration::from_secs(10),
        || {
            env.state().join("locks").exists()
                && std::fs::metadata(lock_file(&env)).is_ok_and(|m| m.len() > 0)
        },
    );
    let out = env
        .tend()
        .args(["check", "--output", "nagios"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "tend check reports a held lock as UNKNOWN"
    );
    let err = stderr(&out);
    assert!(
        err.contains("another run holds the lock") && err.contains(&format!("pid {}", first.id())),
        "{err}"
    );
    assert!(crate::harness::stdout(&out).starts_with("TEND UNKNOWN - another run holds the lock"));

    // --wait-lock waits for the holder to finish.
    let mut waiter = env.tend();
    waiter
        .args(["check", "--wait-lock", "20s"])
        .arg(&p)
        .timeout(Duration::from_secs(30));
    let waiter = std::thread::spawn(move || waiter.output().unwrap());
    wait_for("the waiter to start", Duration::from_secs(10), || {
        std::fs::read_dir(env.state().join("journal")).is_ok_and(|d| d.count() > 0)
            && std::process::Command::new("pgrep")
                .args(["-f", "wait-lock"])
                .output()
                .is_ok_and(|o| o.status.success())
    });
    std::fs::write(&gate, "").unwrap();
    let _ = first.wait();
    let waiter = waiter.join().unwrap();
    assert_eq!(waiter.status.code(), Some(0), "{}", stderr(&waiter));
}

#[test]
fn a_stale_lock_from_a_dead_process_is_taken_over_and_said() {
    let env = Env::new();
    let p = env.write(
        "c.yaml",
        "kind: check\nchecks:\n  - memory: { warn: 100, crit: 100 }\n",
    );
    env.tend().arg("check").arg(&p).assert().code(0);
    // What a run killed with SIGKILL leaves behind: its holder record in the lock file.
    let dead = std::process::Command::new("true").spawn().unwrap();
    let pid = dead.id();
    let _ = dead.wait_with_output();
    let holder = format!(
        r#"{{"pid":{pid},"host":"h","user":"u","run":"20260101-000000-dead","since":"2026-01-01T00:00:00Z","what":"check"}}"#
    );
    std::fs::write(lock_file(&env), holder).unwrap();
    let out = env
        .tend()
        .args(["check", "--output", "plain"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "took over a stale lock left by pid {pid} (run 20260101-000000-dead"
        )),
        "{err}"
    );
}
