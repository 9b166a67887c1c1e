//! `tend check`: thresholds, outputs, exit codes, as Nagios and a person see them.

use std::time::{Duration, SystemTime};

use crate::harness::{Env, stdout};

#[test]
fn default_set_checks_this_machine_without_a_playbook() {
    let env = Env::new();
    let out = env
        .tend()
        .args(["check", "--output", "nagios"])
        .output()
        .unwrap();
    let text = stdout(&out);
    let code = out.status.code().unwrap();
    assert!((0..=3).contains(&code), "{text}");
    assert!(text.starts_with("TEND "), "{text}");
    for label in [
        "'cpu'=",
        "'memory'=",
        "'disk_/'=",
        "'load1'=",
        "'load5'=",
        "'load15'=",
    ] {
        assert!(text.contains(label), "missing {label} in {text}");
    }
    assert_eq!(text.lines().count(), 1, "one plugin line: {text}");
}

#[test]
fn disk_over_critical_is_critical_in_plugin_format() {
    let env = Env::new();
    let (code, text) =
        env.check_nagios("kind: check\nchecks:\n  - disk: { mount: /, warn: 0, crit: 0 }\n");
    assert_eq!(code, 2, "{text}");
    let re = regex_lite(&text);
    assert!(re.starts_with("TEND CRITICAL - disk / "), "{text}");
    assert!(text.contains("% used | 'disk_/'="), "{text}");
    assert!(text.trim_end().ends_with("%;0;0;0;100"), "{text}");
}

/// The status line and perfdata, with numbers blanked, for shape assertions.
fn regex_lite(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect()
}

#[test]
fn warning_level_exits_1_and_ok_exits_0() {
    let env = Env::new();
    let (code, text) =
        env.check_nagios("kind: check\nchecks:\n  - memory: { warn: 0, crit: 100 }\n");
    assert_eq!(code, 1, "{text}");
    assert!(text.starts_with("TEND WARNING - memory "), "{text}");
    let (code, text) =
        env.check_nagios("kind: check\nchecks:\n  - memory: { warn: 100, crit: 100 }\n");
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("TEND OK - memory "), "{text}");
    // `-q` quiets a person's table, never the line Nagios shows or the JSON a script reads.
    use crate::harness::run::Runs;
    for (format, start) in [("nagios", "TEND OK - memory "), ("json", "{")] {
        let run = env
            .tend()
            .args(["-q", "check", "--output", format, "check.yaml"])
            .run();
        run.code(0);
        assert!(
            run.stdout().starts_with(start),
            "{format}: {}",
            run.stdout()
        );
    }
}

#[test]
fn nagios_range_syntax_carries_over() {
    let env = Env::new();
    // "@0:100": alert when inside 0..100, which a percentage always is.
    let (code, text) = env.check_nagios("kind: check\nchecks:\n  - memory: { crit: \"@0:100\" }\n");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains(";;@0:100;0;100"), "{text}");
    // "~:100" never alerts on a percentage.
    let (code, _) = env
        .check_nagios("kind: check\nchecks:\n  - memory: { warn: \"~:100\", crit: \"~:100\" }\n");
    assert_eq!(code, 0);
}

#[test]
fn missing_mount_is_critical_with_a_reason() {
    let env = Env::new();
    let (code, text) =
        env.check_nagios("kind: check\nchecks:\n  - disk: { mount: /no/such/mount }\n");
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("disk /no/such/mount /no/such/mount is not mounted and does not exist"),
        "{text}"
    );
}

#[test]
fn free_space_thresholds_in_bytes() {
    let env = Env::new();
    let (code, text) = env.check_nagios(
        "kind: check\nchecks:\n  - disk: { mount: /, free: { warn: 1PiB, crit: 1KiB } }\n",
    );
    assert_eq!(code, 1, "{text}");
    assert!(text.contains(" free | 'disk_free_/'="), "{text}");
    assert!(text.contains("B;1125899906842624:;1024:;0;"), "{text}");
}

#[test]
fn inodes_and_load_and_swap() {
    let env = Env::new();
    let (code, text) = env.check_nagios("kind: check\nchecks:\n  - inodes: { mount: /, warn: 99, crit: 100 }\n  - load: { warn: [1000, 1000, 1000], crit: 2000 }\n  - swap: {}\n",
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("'load1'=") && text.contains(";1000;2000;0"),
        "{text}"
    );
    assert!(text.contains("'swap'="), "{text}");
}

#[test]
fn process_counts_exclude_tend_itself() {
    let env = Env::new();
    // A copy of tend under a name nothing else has: the only process with that name is the
    // one doing the counting, and it must not count itself.
    let me = env.path("tendselfcount");
    std::fs::copy(assert_cmd::cargo::cargo_bin("tend"), &me).unwrap();
    let p = env.write(
        "p.yaml",
        "kind: check\nchecks:\n  - process: { name: tendselfcount, max: 0 }\n",
    );
    // Another test's fork may briefly hold the copy's write descriptor (ETXTBSY) until that
    // child execs: try again until it lets go.
    let started = std::time::Instant::now();
    let out = loop {
        match std::process::Command::new(&me)
            .args(["check", "--output", "nagios"])
            .arg(&p)
            .env("TEND_STATE_DIR", env.state())
            .output()
        {
            Err(e)
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && started.elapsed() < std::time::Duration::from_secs(10) =>
            {
                std::thread::yield_now();
            }
            other => break other.unwrap(),
        }
    };
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("process tendselfcount 0 processes"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn process_running_and_missing() {
    let env = Env::new();
    let mut sleeper = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let (code, text) = env.check_nagios("kind: check\nchecks:\n  - process: { name: sleep, min: 1 }\n  - process: { name: no-such-daemon-x, min: 1 }\n",
    );
    sleeper.kill().unwrap();
    let _ = sleeper.wait();
    assert_eq!(code, 2, "{text}");
    assert!(
        text.starts_with("TEND CRITICAL - process no-such-daemon-x 0 processes |"),
        "{text}"
    );
    assert!(text.contains("'procs_sleep'="), "{text}");
}

#[test]
fn file_age_fresh_stale_and_missing() {
    let env = Env::new();
    let fresh = env.write("fresh.ok", "");
    let stale = env.write("stale.ok", "");
    let f = std::fs::File::options().write(true).open(&stale).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(30 * 3600))
        .unwrap();
    let playbook = format!(
        "kind: check\nchecks:\n  - file_age: {{ path: {}, max_age: 26h }}\n  - file_age: {{ path: {}, warn: 1h, crit: 26h }}\n  - file_age: {{ path: {}/missing, max_age: 1h }}\n",
        fresh.display(),
        stale.display(),
        env.dir.path().display()
    );
    let p = env.write("age.yaml", &playbook);
    let out = env
        .tend()
        .args(["check", "--output", "plain"])
        .arg(&p)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("OK       file_age "), "{text}");
    assert!(
        lines[1].starts_with("CRITICAL file_age ") && lines[1].contains("modified 1day 6h ago"),
        "{text}"
    );
    assert!(lines[2].contains("missing does not exist"), "{text}");
}

#[test]
fn json_output_is_one_document() {
    let env = Env::new();
    let p = env.write("c.yaml", "kind: check\nchecks:\n  - memory: { warn: 100, crit: 100 }\n  - disk: { mount: /, warn: 0, crit: 100 }\n");
    let out = env
        .tend()
        .args(["check", "--output", "json"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["status"], "warning");
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["checks"][0]["name"], "memory");
    assert_eq!(v["checks"][1]["name"], "disk /");
    assert_eq!(v["checks"][1]["status"], "warning");
    assert_eq!(v["checks"][1]["perf"][0]["uom"], "%");
}

#[test]
fn human_table_and_quiet() {
    let env = Env::new();
    let p = env.write(
        "c.yaml",
        "kind: check\nchecks:\n  - memory: { warn: 100, crit: 100 }\n",
    );
    let out = env
        .tend()
        .args(["check", "--output", "human"])
        .arg(&p)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("OK       memory") && text.contains("\nOK (1 ok)"),
        "{text}"
    );
    assert!(
        !text.contains('\x1b'),
        "no escape codes with NO_COLOR: {text:?}"
    );
    // -q: cron mails nothing when all is well.
    let out = env.tend().args(["-q", "check"]).arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        stdout(&out)
    );
}

#[test]
fn prom_file_is_written_for_node_exporter() {
    let env = Env::new();
    let p = env.write(
        "c.yaml",
        "kind: check\nchecks:\n  - disk: { mount: /, warn: 0, crit: 0 }\n",
    );
    let prom = env.path("textfile/tend.prom");
    std::fs::create_dir_all(prom.parent().unwrap()).unwrap();
    env.tend()
        .arg("check")
        .arg(&p)
        .arg("--prom-file")
        .arg(&prom)
        .assert()
        .code(2);
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(text.contains("# TYPE tend_check_status gauge"), "{text}");
    assert!(
        text.contains("tend_check_status{check=\"disk /\",kind=\"disk\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("tend_check_value{check=\"disk /\",metric=\"disk_/\",unit=\"%\"} "),
        "{text}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(prom.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temp files left beside the textfile");
}

#[test]
fn shipped_host_health_playbook_runs() {
    let env = Env::new();
    let p = crate::harness::repo_root().join("playbooks/host-health.yaml");
    let out = env
        .tend()
        .args(["check", "--no-notify", "--output", "nagios"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        (0..=2).contains(&out.status.code().unwrap()),
        "{}",
        stdout(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("'cpu'=") && text.contains(";90;"), "{text}");
}

#[test]
fn a_hung_mount_is_unknown_and_does_not_hang_the_check() {
    let env = Env::new();
    let hung = crate::harness::hangfs::HangFs::mount(env.dir.path());
    let p = env.write(
        "hung.yaml",
        &format!(
            "kind: check\nchecks:\n  - disk: {{ mount: {}, timeout: 500ms }}\n  - memory: {{}}\n",
            hung.mount.display()
        ),
    );
    let started = std::time::Instant::now();
    let out = env
        .tend()
        .args(["check", "--output", "nagios"])
        .arg(&p)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    let took = started.elapsed();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("did not answer within 500ms (hung mount?)"),
        "{text}"
    );
    assert!(
        text.contains("'memory'="),
        "the other checks still report: {text}"
    );
    assert!(
        took < Duration::from_secs(10),
        "tend must exit despite the stuck statfs (took {took:?})"
    );
}

#[test]
fn a_check_still_running_at_the_deadline_is_unknown_and_the_rest_report() {
    let env = Env::new();
    let p = env.write(
        "hang.yaml",
        "kind: check\nchecks:\n  - name: stuck\n    probe: { command: \"sleep 47\", timeout: 50s }\n  - memory: { warn: 100, crit: 100 }\n",
    );
    let started = std::time::Instant::now();
    let out = env
        .tend()
        .args(["check", "--output", "nagios", "--timeout", "1s"])
        .arg(&p)
        .timeout(Duration::from_secs(40))
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(started.elapsed() < Duration::from_secs(40));
    assert!(
        text.starts_with("TEND UNKNOWN - stuck still running after 1s, given up (--timeout)"),
        "{text}"
    );
    assert!(
        text.contains("'memory'="),
        "the memory check reports: {text}"
    );
    // The probe's command does not outlive the run.
    crate::harness::wait_for("the probe's sleep to end", Duration::from_secs(10), || {
        !std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("cmdline")).unwrap_or_default() == b"sleep\x0047\x00"
        })
    });
}

#[test]
fn a_probe_that_could_outlast_the_deadline_is_refused_at_validate() {
    let env = Env::new();
    let p = env.write(
        "forever.yaml",
        "kind: check\nchecks:\n  - probe: { tcp: \"127.0.0.1:9\", retries: 1000000, interval: 1h }\n",
    );
    let out = env.tend().arg("validate").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        crate::harness::stderr(&out),
        format!(
            "error: this check can run for 114years 2months 25days 3h 46m 13s (1000001 attempts of up to 5s each, 1h apart), past the run's deadline of 1m\n --> {}:3:12\n  |\n3 |   - probe: {{ tcp: \"127.0.0.1:9\", retries: 1000000, interval: 1h }}\n  |            ^\n  = hint: lower its `retries`, `interval`, `timeout` or `sample`, or raise the playbook's `timeout:` (how long `tend check` waits, default 60s)\n",
            p.display()
        )
    );
    // Raised, the deadline fits a probe that needs it.
    let p = env.write(
        "slow.yaml",
        "kind: check\ntimeout: 5m\nchecks:\n  - probe: { tcp: \"127.0.0.1:9\", retries: 10, interval: 20s }\n",
    );
    env.tend().arg("validate").arg(&p).assert().code(0);
    // A CPU sample longer than the deadline could never report.
    let p = env.write(
        "cpu.yaml",
        "kind: check\ntimeout: 10s\nchecks:\n  - cpu: { sample: 20s }\n",
    );
    env.tend().arg("validate").arg(&p).assert().code(64);
}

/// `tend plan` on a check playbook: each check under the name its run reports, when it alerts,
/// and where the alerts go; nothing measured, no secret read.
#[test]
fn plan_of_a_check_playbook_says_what_each_check_judges_and_where_alerts_go() {
    use crate::harness::run::Runs;
    let env = Env::new();
    let p = env.write(
        "c.yaml",
        "kind: check\nname: web\ntimeout: 30s\nsecrets: { hook: { env: TEND_TEST_HOOK } }\nnotify:\n  webhook: { url: \"https://hooks.example.com/services/{{ hook }}\", on: [critical] }\nchecks:\n  - disk: { mount: /, warn: 80, crit: 90 }\n  - process: { name: nginx, min: 1 }\n  - probe: { tcp: \"127.0.0.1:1\", timeout: 1s, retries: 2, interval: 2s }\n    name: web port\n",
    );
    env.tend().arg("plan").arg(&p).run().code(0).stdout_is(
        "check web: 3 checks; the run gives up on any still running after 30s\n\
             \n\
             steps:\n   \
             1. disk /: critical above 90%, warning above 80%\n   \
             2. process nginx: count critical below 1\n   \
             3. web port: critical when it fails (3 attempts of up to 1s each, 2s apart)\n\
             \n\
             alerts: webhook to https://hooks.example.com on critical\n",
    );
    let run = env.tend().args(["plan", "--output", "json"]).arg(&p).run();
    run.code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(doc["kind"], "check");
    assert_eq!(doc["steps"][2]["step"], "web port");
    assert_eq!(doc["deadline"], 30.0);
}

/// A password written in a probe's URL names the step in every output: it is masked there, and a
/// webhook URL that is a secret is checked when the check runs, not refused by `validate`.
#[test]
fn a_password_in_a_probe_url_is_masked_and_a_secret_webhook_url_validates() {
    use crate::harness::run::Runs;
    let env = Env::new();
    let p = env.write(
        "c.yaml",
        "kind: check\nsecrets: { hook: { env: TEND_TEST_HOOK_URL } }\nnotify:\n  webhook: { url: \"{{ hook }}\", on: [critical] }\nchecks:\n  - probe: { http: \"http://ops:hunter2pass@127.0.0.1:1/health\", timeout: 1s }\n",
    );
    env.tend().arg("validate").arg(&p).run().code(0);
    env.tend()
        .arg("plan")
        .arg(&p)
        .run()
        .code(0)
        .stdout_has("http://ops:***@127.0.0.1:1/health")
        .stdout_has("webhook to the URL of a secret");
    let run = env
        .tend()
        .args(["check", "--no-notify", "--output", "nagios"])
        .arg(&p)
        .env("TEND_TEST_HOOK_URL", "http://127.0.0.1:1/hook")
        .run();
    run.code(2).stdout_has("ops:***@");
    assert!(
        !run.stdout().contains("hunter2pass") && !run.stderr().contains("hunter2pass"),
        "{}{}",
        run.stdout(),
        run.stderr()
    );
}
