//! Two cron runs of the same playbook never overlap, except checks, which only read.

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
fn overlapping_checks_of_one_playbook_both_report() {
    let env = Env::new();
    let (gate, held) = (env.path("gate"), env.path("held"));
    // The first run's probe holds on until the gate opens; the second's answers at once.
    let p = env.write(
        "slow.yaml",
        &format!(
            "kind: check\nchecks:\n  - probe: {{ command: \"if mkdir {} 2>/dev/null; then while [ ! -e {} ]; do sleep 0.05; done; fi\", timeout: 30s }}\n",
            held.display(),
            gate.display()
        ),
    );
    let first = std::process::Command::new(assert_cmd::cargo::cargo_bin("tend"))
        .args(["check", "--output", "nagios"])
        .arg(&p)
        .env("TEND_STATE_DIR", env.state())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the first run's probe", Duration::from_secs(10), || {
        held.exists()
    });
    let out = env
        .tend()
        .args(["check", "--output", "nagios"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        crate::harness::stdout(&out).starts_with("TEND OK - "),
        "{}",
        crate::harness::stdout(&out)
    );
    std::fs::write(&gate, "").unwrap();
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(crate::harness::stdout(&first).starts_with("TEND OK - "));
}

#[test]
fn a_stale_lock_from_a_dead_process_is_taken_over_and_said() {
    let env = Env::new();
    std::fs::create_dir(env.path("logs")).unwrap();
    let p = env.write(
        "c.yaml",
        &format!(
            "kind: cleanup\nrules:\n  - path: {}\n    match: [\"*.log\"]\n    older_than: 1d\n    action: delete\n",
            env.path("logs").display()
        ),
    );
    env.tend().arg("cleanup").arg(&p).assert().code(0);
    // What a run killed with SIGKILL leaves behind: its holder record in the lock file.
    let dead = std::process::Command::new("true").spawn().unwrap();
    let pid = dead.id();
    let _ = dead.wait_with_output();
    let holder = format!(
        r#"{{"pid":{pid},"host":"h","user":"u","run":"20260101-000000-dead","since":"2026-01-01T00:00:00Z","what":"cleanup"}}"#
    );
    std::fs::write(lock_file(&env), holder).unwrap();
    let out = env
        .tend()
        .args(["cleanup", "--output", "plain"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "took over a stale lock left by pid {pid} (run 20260101-000000-dead"
        )),
        "{err}"
    );
}

/// A check whose probe runs a pipeline that would outlive a shell killed alone.
fn pipeline_check(env: &Env, own_group: bool) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let p = env.write(
        "slow.yaml",
        "kind: check\nchecks:\n  - probe: { command: \"echo started >&2; sleep 60 | cat\", timeout: 50s }\n",
    );
    let mut tend = std::process::Command::new(assert_cmd::cargo::cargo_bin("tend"));
    tend.args(["-v", "--output", "plain", "check"])
        .arg(&p)
        .env("TEND_STATE_DIR", env.state())
        .current_dir(env.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if own_group {
        // As a shell's job is: then `kill -9 -PGID` ends tend and all it forked at once.
        tend.process_group(0);
    }
    tend.spawn().unwrap()
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
    for (sig, group) in [
        ("TERM", false),
        ("INT", false),
        ("KILL", false),
        ("KILL", true),
    ] {
        let env = Env::new();
        let mut child = pipeline_check(&env, group);
        wait_for("the pipeline", Duration::from_secs(20), || sleeping(&env));
        let whom = if group {
            format!("-{}", child.id())
        } else {
            child.id().to_string()
        };
        std::process::Command::new("kill")
            .args([&format!("-{sig}"), "--", &whom])
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

#[test]
fn a_slow_run_that_began_first_does_not_page_over_a_newer_one() {
    let env = Env::new();
    let hook = crate::harness::http::HttpServer::start(200, "ok");
    let (bad, gate, running) = (env.path("bad"), env.path("gate"), env.path("running"));
    let p = env.write(
        "c.yaml",
        &format!(
            "kind: check\nnotify:\n  webhook: {{ url: \"{}\", on: [critical, recovery] }}\nchecks:\n  - name: app\n    probe: {{ command: \"if [ -e {bad} ]; then touch {running}; while [ ! -e {gate} ]; do sleep 0.05; done; exit 1; fi\", timeout: 30s }}\n",
            hook.url("/hook"),
            bad = bad.display(),
            gate = gate.display(),
            running = running.display(),
        ),
    );
    let check = || env.tend().arg("check").arg(&p).output().unwrap();
    std::fs::write(&bad, "").unwrap();
    std::fs::write(&gate, "").unwrap();
    assert_eq!(check().status.code(), Some(2));
    assert_eq!(hook.requests.lock().unwrap().len(), 1, "CRITICAL sent");
    // A slow run begins while the app is bad; the app recovers, and a newer run says so.
    std::fs::remove_file(&gate).unwrap();
    std::fs::remove_file(&running).unwrap();
    let slow = std::process::Command::new(assert_cmd::cargo::cargo_bin("tend"))
        .arg("check")
        .arg(&p)
        .env("TEND_STATE_DIR", env.state())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the slow run's probe", Duration::from_secs(10), || {
        running.exists()
    });
    std::fs::remove_file(&bad).unwrap();
    assert_eq!(check().status.code(), Some(0));
    assert_eq!(hook.requests.lock().unwrap().len(), 2, "RECOVERED sent");
    // The slow run ends CRITICAL, with an older view than what was sent: no page.
    std::fs::write(&gate, "").unwrap();
    let slow = slow.wait_with_output().unwrap();
    assert_eq!(slow.status.code(), Some(2));
    assert_eq!(hook.requests.lock().unwrap().len(), 2, "no stale CRITICAL");
    // And the state still says OK: the next run has nothing to send.
    assert_eq!(check().status.code(), Some(0));
    assert_eq!(hook.requests.lock().unwrap().len(), 2);
}
