//! The run journal, read back by `tend history`.

use crate::harness::{Env, stdout};

#[test]
fn runs_are_listed_and_a_timeline_shown() {
    let env = Env::new();
    let p = env.write("h.yaml", "kind: check\nname: nightly\nchecks:\n  - memory: { warn: 100, crit: 100 }\n  - disk: { mount: /, warn: 0, crit: 0 }\n");
    env.tend().arg("check").arg(&p).assert().code(2);
    env.tend().arg("check").arg(&p).assert().code(2);

    let out = env.tend().arg("history").output().unwrap();
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "header + 2 runs: {text}");
    assert!(lines[0].starts_with("RUN "), "{text}");
    assert!(
        lines[1].contains("check")
            && lines[1].contains("nightly")
            && lines[1].contains("critical (exit 2)"),
        "{text}"
    );

    let runs: Vec<serde_json::Value> = stdout(
        &env.tend()
            .args(["history", "--output", "json"])
            .output()
            .unwrap(),
    )
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    assert_eq!(runs.len(), 2);
    assert!(
        runs[0]["started"].as_str() > runs[1]["started"].as_str(),
        "newest first"
    );
    let id = runs[0]["run"].as_str().unwrap().to_string();

    let out = env.tend().args(["history", "show", &id]).output().unwrap();
    let timeline = stdout(&out);
    assert!(
        timeline.contains("run     check 'nightly' started"),
        "{timeline}"
    );
    assert!(timeline.contains("start   disk /"), "{timeline}");
    assert!(
        timeline.contains("critical disk /: ") && timeline.contains("% used ("),
        "{timeline}"
    );
    assert!(
        timeline.contains("done    critical: CRITICAL (2 checks, 1 not OK) (exit 2"),
        "{timeline}"
    );

    let out = env
        .tend()
        .args(["history", "--kind", "deploy"])
        .output()
        .unwrap();
    assert!(stdout(&out).is_empty());
    let out = env
        .tend()
        .args(["history", "show", "20990101-000000-0000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn old_journal_days_are_pruned() {
    let env = Env::new();
    let journal = env.state().join("journal");
    std::fs::create_dir_all(&journal).unwrap();
    std::fs::write(journal.join("2001-01-01.jsonl"), "").unwrap();
    std::fs::write(journal.join("notes.txt"), "not ours").unwrap();
    let p = env.write(
        "c.yaml",
        "kind: check\nchecks:\n  - memory: { warn: 100, crit: 100 }\n",
    );
    env.tend().arg("check").arg(&p).assert().code(0);
    assert!(
        !journal.join("2001-01-01.jsonl").exists(),
        "a day older than 90 days is removed"
    );
    assert!(
        journal.join("notes.txt").exists(),
        "files that are not day files are left alone"
    );
    assert_eq!(
        std::fs::read_dir(&journal).unwrap().count(),
        2,
        "today's file and notes.txt"
    );
}

#[test]
fn a_line_torn_by_a_killed_run_does_not_hide_the_next_run() {
    let env = Env::new();
    let p = env.write(
        "h.yaml",
        "kind: check\nname: nightly\nchecks:\n  - memory: { warn: 100, crit: 100 }\n",
    );
    env.tend().arg("check").arg(&p).assert().code(0);
    let day = std::fs::read_dir(env.state().join("journal"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut f = std::fs::OpenOptions::new().append(true).open(&day).unwrap();
    std::io::Write::write_all(&mut f, b"{\"run\":\"x\",\"ev").unwrap();
    env.tend().arg("check").arg(&p).assert().code(0);
    let out = env.tend().arg("history").output().unwrap();
    assert_eq!(
        stdout(&out).lines().count(),
        3,
        "header + 2 runs: {}",
        stdout(&out)
    );
}

/// A run whose process is gone is interrupted, even when its pid now belongs to another
/// process (given again after the run died, or after a reboot); one that runs says so.
#[test]
fn a_dead_runs_pid_in_use_by_another_process_is_not_running() {
    let env = Env::new();
    let mut other = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let now = std::time::SystemTime::now();
    let ts = |ago: u64| {
        humantime::format_rfc3339_millis(now - std::time::Duration::from_secs(ago)).to_string()
    };
    let line = |run: &str, pid: u32, at: String| {
        format!(
            "{{\"ts\":\"{at}\",\"run\":\"{run}\",\"event\":\"run_started\",\"kind\":\"deploy\",\"name\":\"{run}\",\"playbook\":null,\"controller\":\"h\",\"user\":\"u\",\"pid\":{pid}}}\n"
        )
    };
    let day = humantime::format_rfc3339_seconds(now).to_string()[..10].to_string();
    let digits = day.replace('-', "");
    let journal = format!(
        "{}{}",
        // The pid of a `sleep` that started after this run.
        line(&format!("{digits}-000001-0001"), other.id(), ts(3600)),
        // pid 1, alive and older than the run, but not a tend.
        line(&format!("{digits}-000002-0002"), 1, ts(60)),
    );
    env.write(&format!("state/journal/{day}.jsonl"), &journal);
    let text = stdout(
        &env.tend()
            .args(["history", "--output", "json"])
            .output()
            .unwrap(),
    );
    let _ = other.kill();
    let _ = other.wait();
    let states: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["status"].to_string())
        .collect();
    assert_eq!(states, ["\"interrupted\"", "\"interrupted\""], "{text}");
}
