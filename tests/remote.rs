//! `tend check` and `tend cleanup` across hosts, with no agent: tend brings itself to each host
//! over SSH (real sshd on loopback), runs there, and reports here.

use crate::harness::hosts::Hosts;
use crate::harness::run::Run;
use crate::harness::smtp::{SmtpServer, readable};

/// `health.yaml` for `hosts`: a stamp file's age (each host's own, from its vars) and the sshd
/// process, alerting by email through `notify`.
fn check_playbook(hosts: &Hosts, notify: &str) {
    let vars: Vec<(usize, String)> = (0..hosts.names.len())
        .map(|i| {
            (
                i,
                format!("stamp: {}", hosts.dir(i).join("stamp").display()),
            )
        })
        .collect();
    let vars: Vec<(usize, &str)> = vars.iter().map(|(i, v)| (*i, v.as_str())).collect();
    hosts.env.write(
        "health.yaml",
        &format!(
            "kind: check
name: health
{}{notify}runbook: https://wiki.example.internal/runbooks/backups
checks:
  - file_age: {{ path: \"{{{{ host.vars.stamp }}}}\", max_age: 1h }}
    name: backup
  - process: {{ name: sshd, min: 1 }}
",
            hosts.yaml(&vars)
        ),
    );
}

/// Each host's stamp written now, `web2`'s two hours ago: web2 is CRITICAL.
fn stamps(hosts: &Hosts, stale: usize) {
    for i in 0..hosts.names.len() {
        let p = hosts.dir(i).join("stamp");
        std::fs::write(&p, "ok").unwrap();
        if i == stale {
            crate::harness::aged(&p, 7200);
        }
    }
}

/// How many hosts' `tend` step said `what` ("uploaded", "cached") in a JSON run's events.
fn tend_steps(run: &Run, what: &str) -> usize {
    run.stderr()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "step_finished" && e["step"] == "tend")
        .filter(|e| e["message"].as_str().unwrap_or_default().contains(what))
        .count()
}

#[test]
fn a_check_across_three_hosts_reports_each_host_and_alerts_once() {
    let hosts = Hosts::new(3);
    let smtp = SmtpServer::start(hosts.env.dir.path());
    check_playbook(&hosts, &smtp.notify());
    stamps(&hosts, 1);
    hosts
        .tend(&["validate", "health.yaml"])
        .code(0)
        .stdout_has("check, 2 checks on 3 hosts");
    hosts
        .tend(&["plan", "health.yaml"])
        .code(0)
        .stdout_has("on 3 hosts: web1, web2, web3 (tend runs the checks on each, over SSH)");

    // The first run brings tend to each host; the table puts the worst host first.
    let run = hosts.tend(&["check", "--output", "human", "health.yaml"]);
    run.code(2);
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("HOST  STATE     backup"), "{out}");
    assert!(
        lines[1].starts_with("web2  CRITICAL  CRITICAL modified 2h"),
        "{out}"
    );
    assert!(lines[2].starts_with("web1  OK "), "{out}");
    assert!(lines[3].starts_with("web3  OK "), "{out}");
    assert!(
        out.ends_with("\nCRITICAL (1 critical, 2 ok of 3 hosts)\n"),
        "{out}"
    );

    // One email for the run, naming the host that changed.
    let msgs = smtp.wait_for_messages(1);
    let m = readable(&msgs[0]);
    assert!(m.contains("Subject: [tend] web2: CRITICAL backup "), "{m}");
    assert!(m.contains("CRITICAL on web2: backup"), "{m}");
    assert!(
        m.contains("Runbook: https://wiki.example.internal/runbooks/backups"),
        "{m}"
    );
    assert!(m.contains("OK        2 hosts more"), "{m}");

    // Again, as a monitor reads it: tend is found cached on every host, nothing uploaded.
    let run = hosts.tend(&[
        "check",
        "--output",
        "nagios",
        "--prom-file",
        "fleet.prom",
        "health.yaml",
    ]);
    let prom = hosts.env.path("fleet.prom");
    run.code(2);
    let line = run.stdout();
    assert!(
        line.starts_with("TEND CRITICAL - 1 of 3 hosts CRITICAL: web2 backup modified 2h"),
        "{line}"
    );
    assert!(line.contains("| 'web1_age_"), "{line}");
    assert!(line.contains(" 'web3_procs_sshd'="), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(
        text.contains("tend_check_status{host=\"web2\",check=\"backup\",kind=\"file_age\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("tend_check_status{host=\"web1\",check=\"backup\",kind=\"file_age\"} 0"),
        "{text}"
    );
    // No second email: nothing changed.
    assert_eq!(smtp.messages().len(), 1);

    // The events say where tend came from on each host.
    let run = hosts.tend(&["check", "--output", "json", "--no-notify", "health.yaml"]);
    run.code(2);
    assert_eq!(tend_steps(&run, "cached"), 3, "{}", run.stderr());
    assert_eq!(tend_steps(&run, "uploaded"), 0, "{}", run.stderr());
    let doc: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(doc["status"], "critical");
    let hosts_doc = doc["hosts"].as_array().unwrap();
    assert_eq!(hosts_doc.len(), 3);
    assert_eq!(hosts_doc[1]["host"], "web2");
    assert_eq!(hosts_doc[1]["status"], "critical");
    assert_eq!(hosts_doc[1]["checks"][0]["name"], "backup");

    // Icinga's passive checks: a line per host.
    let run = hosts.tend(&[
        "check",
        "--output",
        "nagios",
        "--per-host",
        "--no-notify",
        "health.yaml",
    ]);
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("web2\thealth\t2\tTEND CRITICAL - backup modified 2h"),
        "{out}"
    );
    assert!(lines[1].starts_with("web1\thealth\t0\tTEND OK - "), "{out}");

    // web2 fixed: the recovery is one email too.
    stamps(&hosts, usize::MAX);
    hosts.tend(&["check", "health.yaml"]).code(0);
    let msgs = smtp.wait_for_messages(2);
    assert!(
        readable(&msgs[1]).contains("Subject: [tend] web2: RECOVERED backup"),
        "{}",
        msgs[1]
    );
}

#[test]
fn tend_is_uploaded_once_per_host_and_reused() {
    let hosts = Hosts::new(2);
    check_playbook(&hosts, "");
    stamps(&hosts, usize::MAX);
    let check = || hosts.tend(&["check", "--output", "json", "--no-notify", "health.yaml"]);
    let first = check();
    first.code(0);
    assert_eq!(tend_steps(&first, "uploaded"), 2, "{}", first.stderr());
    let cached: Vec<_> = std::fs::read_dir(hosts.dir(0).join("home/.cache/tend"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    let exe = cached[0].join("tend");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&exe).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(
        std::fs::read(&exe).unwrap(),
        std::fs::read(assert_cmd::cargo::cargo_bin("tend")).unwrap(),
        "the upload is this very tend"
    );
    let second = check();
    second.code(0);
    assert_eq!(tend_steps(&second, "uploaded"), 0, "{}", second.stderr());
    assert_eq!(tend_steps(&second, "cached"), 2, "{}", second.stderr());
}

#[test]
fn a_host_that_cannot_run_tend_says_why_and_the_others_still_report() {
    let hosts = Hosts::new(3);
    check_playbook(&hosts, "");
    stamps(&hosts, usize::MAX);
    // web1: a glibc far too old; web3: its cache on a noexec mount.
    hosts.shim(0, "getconf", "echo glibc 2.5\n");
    let cache = hosts.dir(2).join("home/.cache");
    std::fs::create_dir_all(&cache).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "noexec,size=200m", "tmpfs"])
        .arg(&cache)
        .status()
        .unwrap();
    assert!(
        mounted.success(),
        "mount a noexec tmpfs (the tests run as root)"
    );
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(cache);

    let run = hosts.tend(&["check", "--output", "plain", "--no-notify", "health.yaml"]);
    run.code(3);
    let out = run.stdout();
    assert!(
        out.contains("UNKNOWN  web1 tend: the host has glibc 2.5 and this tend needs 2."),
        "{out}"
    );
    assert!(out.contains("set ssh.remote_tend to its path"), "{out}");
    assert!(out.contains("UNKNOWN  web3 tend: cannot execute "), "{out}");
    assert!(out.contains("noexec"), "{out}");
    assert!(out.contains("OK       web2 backup: "), "{out}");
}

/// `n` bytes of log-like text (compressible, distinct per file), `days` old.
fn old_log(path: &std::path::Path, n: usize, days: u64) -> Vec<u8> {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let line = format!("{} GET /index.html 200\n", path.display());
    let bytes: Vec<u8> = line.bytes().cycle().take(n).collect();
    std::fs::write(path, &bytes).unwrap();
    crate::harness::aged(path, days * 86_400);
    bytes
}

fn gunzip(path: &std::path::Path) -> Vec<u8> {
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} is a whole gzip file",
        path.display()
    );
    out.stdout
}

#[test]
fn a_cleanup_across_three_hosts_compresses_on_each_losslessly() {
    let hosts = Hosts::new(3);
    let vars: Vec<String> = (0..3)
        .map(|i| format!("logs: {}", hosts.dir(i).join("logs").display()))
        .collect();
    let vars: Vec<(usize, &str)> = vars
        .iter()
        .enumerate()
        .map(|(i, v)| (i, v.as_str()))
        .collect();
    hosts.env.write(
        "logs.yaml",
        &format!(
            "kind: cleanup\nname: app-logs\n{}rules:\n  - name: compress old logs\n    path: \"{{{{ host.vars.logs }}}}\"\n    match: [\"*.log\"]\n    older_than: 1d\n    action: compress\n",
            hosts.yaml(&vars)
        ),
    );
    let mut originals = vec![];
    for i in 0..3 {
        let logs = hosts.dir(i).join("logs");
        originals.push((
            logs.join("app.log"),
            old_log(&logs.join("app.log"), 200_000 + i * 1000, 3),
        ));
        old_log(&logs.join("today.log"), 1000, 0);
    }

    hosts
        .tend(&["validate", "logs.yaml"])
        .code(0)
        .stdout_has("cleanup, 1 rules on 3 hosts");
    let dry = hosts.tend(&["cleanup", "--dry-run", "logs.yaml"]);
    dry.code(0);
    // A plan across hosts is each host's dry run.
    let plan = hosts.tend(&["plan", "logs.yaml"]);
    plan.code(0).stdout_has("web2  ok          1 ");
    for (path, _) in &originals {
        assert!(path.exists(), "a dry run touches nothing");
    }

    let run = hosts.tend(&["cleanup", "--output", "plain", "logs.yaml"]);
    run.code(0);
    for (path, bytes) in &originals {
        assert!(!path.exists(), "{} compressed", path.display());
        assert_eq!(&gunzip(&path.with_extension("log.gz")), bytes, "lossless");
        assert!(
            path.with_file_name("today.log").exists(),
            "a fresh log stays"
        );
    }
    // Each host's steps, named by host, and the table.
    let err = run.stderr();
    for name in &hosts.names {
        assert!(
            err.contains(&format!(
                "[{name}] ok      compress old logs: compressed 1 files"
            )),
            "{err}"
        );
    }
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "HOST  RESULT  FILES  RECLAIMED  FREE BEFORE  FREE AFTER  MOUNT / FAILURES",
        "{out}"
    );
    for (i, name) in hosts.names.iter().enumerate() {
        assert!(
            lines[i + 1].starts_with(&format!("{name}  ok          1 ")),
            "{out}"
        );
    }
}

#[test]
fn a_host_lost_mid_run_is_reported_and_the_others_finish() {
    let mut hosts = Hosts::new(3);
    let marker = hosts.env.path("web2-started");
    let vars = [
        (0, "nap: 0".to_string()),
        (1, format!("nap: 30, mark: {}", marker.display())),
        (2, "nap: 0".to_string()),
    ];
    let vars: Vec<(usize, &str)> = vars.iter().map(|(i, v)| (*i, v.as_str())).collect();
    let p = hosts.env.write(
        "slow.yaml",
        &format!(
            "kind: check\nname: slow\n{}checks:\n  - probe: {{ command: \"{{% if host.vars.mark is defined %}}touch {{{{ host.vars.mark }}}}; {{% endif %}}sleep {{{{ host.vars.nap }}}}\", timeout: 40s }}\n    name: nap\n",
            hosts.yaml(&vars)
        ),
    );
    let child = hosts
        .env
        .tend_spawnable()
        .args(["check", "--output", "plain", "--no-notify"])
        .arg(&p)
        .spawn()
        .unwrap();
    crate::harness::wait_for(
        "web2's check to start",
        std::time::Duration::from_secs(60),
        || marker.exists(),
    );
    hosts.sshd[1].kill_all();
    let out = child.wait_with_output().unwrap();
    let run = Run::of(&out);
    run.code(3);
    let text = run.stdout();
    assert!(
        text.contains("UNKNOWN  web2 tend: lost the host during the run"),
        "{text}"
    );
    assert!(text.contains("OK       web1 nap: "), "{text}");
    assert!(text.contains("OK       web3 nap: "), "{text}");
}

/// Processes whose command line holds `text`, other than pgrep itself.
fn running(text: &str) -> bool {
    std::process::Command::new("pgrep")
        .args(["-f", text])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_controller_killed_mid_run_leaves_nothing_working_on_the_host() {
    let hosts = Hosts::new(1);
    let marker = hosts.env.path("probe-started");
    let p = hosts.env.write(
        "slow.yaml",
        &format!(
            "kind: check\nname: slow\n{}checks:\n  - probe: {{ command: \"touch {m}; sleep 30\", timeout: 40s }}\n",
            hosts.yaml(&[]),
            m = marker.display()
        ),
    );
    let mut child = hosts
        .env
        .tend_spawnable()
        .args(["check", "--no-notify"])
        .arg(&p)
        .spawn()
        .unwrap();
    crate::harness::wait_for(
        "the check to start on the host",
        std::time::Duration::from_secs(60),
        || marker.exists(),
    );
    let cache = hosts.dir(0).join("home/.cache/tend");
    assert!(
        running(&cache.display().to_string()),
        "tend runs on the host"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // The host's tend and its probe end with the controller, not 30 s later.
    crate::harness::wait_for(
        "the host's tend and its probe to end",
        std::time::Duration::from_secs(10),
        || !running(&cache.display().to_string()) && !running(&marker.display().to_string()),
    );
}

#[test]
fn a_host_whose_tend_leaves_a_check_out_or_forges_lines_is_not_taken_at_its_word() {
    let hosts = Hosts::new(1);
    // An "installed tend" on the host that answers with a banner first, then a result that
    // leaves the second check out, adds one the playbook has not, and puts a line break in a
    // name.
    let fake = hosts.dir(0).join("bin/fake-tend");
    std::fs::write(
        &fake,
        r#"#!/bin/sh
if [ "$1" = --version ]; then echo "tend 0.1.0 (fake)"; exit 0; fi
cat >/dev/null
printf '%s\n' '{"tend_result":{"checks":[{"name":"backup\r\nCRITICAL web9 forged","kind":"file_age","status":"ok","summary":"fine","detail":"fine","thresholds":"","perf":[],"item":0},{"name":"extra","kind":"x","status":"ok","summary":"x","detail":"x","thresholds":"","perf":[],"item":9}]}}'
"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    hosts.env.write(
        "forged.yaml",
        &format!(
            "kind: check\n{}checks:\n  - file_age: {{ path: /etc/hostname, max_age: 1h }}\n  - process: {{ name: sshd, min: 1 }}\n",
            hosts
                .yaml(&[])
                .replace("ssh: {", &format!("ssh: {{ remote_tend: {}, ", fake.display()))
        ),
    );
    let run = hosts.tend(&["check", "--output", "plain", "--no-notify", "forged.yaml"]);
    run.code(3);
    let out = run.stdout();
    assert!(
        out.contains("UNKNOWN  web1 check 2: the host's tend gave no verdict for it"),
        "{out}"
    );
    assert!(!out.contains("extra"), "{out}");
    assert!(out.contains("backup\\r\\nCRITICAL web9 forged"), "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
}
