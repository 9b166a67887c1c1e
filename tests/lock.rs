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

/// A check whose probe runs a pipeline that would outlive a shell killed alone.
fn pipeline_check(env: &Env) -> std::process::Child {
    let p = env.write(
        "slow.yaml",
        "kind: check\nchecks:\n  - probe: { command: \"echo started >&2; sleep 60 | cat\", timeout: 90s }\n",
    );
    std::process::Command::new(assert_cmd::cargo::cargo_bin("tend"))
        .args(["-v", "--output", "plain", "check"])
        .arg(&p)
        .env("TEND_STATE_DIR", env.state())
        .current_dir(env.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The `sleep 60` of this test's pipeline, if any is running (its parent's working directory is
/// the test's).
fn sleeping(env: &Env) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cwd = std::fs::read_link(e.path().join("cwd")).unwrap_or_default();
        cmd == b"sleep\x0060\x00" && cwd == env.dir.path()
    })
}

#[test]
fn a_signal_or_kill_9_ends_tend_and_every_process_of_its_steps() {
    for sig in ["TERM", "INT", "KILL"] {
        let env = Env::new();
        let mut child = pipeline_check(&env);
        wait_for("the pipeline", Duration::from_secs(20), || sleeping(&env));
        std::process::Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "{sig}");
        wait_for(
            &format!("the pipeline to end after SIG{sig}"),
            Duration::from_secs(10),
            || !sleeping(&env),
        );
    }
}
