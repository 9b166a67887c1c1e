//! `tend failover` against two real dnsmasq servers on loopback: the active one is the first
//! nameserver of a resolv.conf-format file in the temp dir; fences really kill the server.

use std::time::Duration;

use crate::harness::failover::{GOOD, Pair, pair, pair_with, wait_line};
use crate::harness::smtp::SmtpServer;
use crate::harness::{Env, stderr, stdout};

#[test]
fn both_healthy_means_nothing_to_do() {
    let p = pair();
    let before = std::fs::read_to_string(p.env.path("resolv.conf")).unwrap();
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("dns1 is healthy: nothing to do"), "{err}");
    assert!(
        err.contains(&format!("dns1 (active) answered {GOOD}")),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(p.env.path("resolv.conf")).unwrap(),
        before
    );
    assert_eq!(p.fence_log(), "");
}

#[test]
fn a_killed_active_fails_over_to_the_standby_verified_through_the_resolv_file() {
    let mut p = pair();
    p.dns1.kill();
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("dns1 failed 3 of 3 rounds"), "{err}");
    assert!(err.contains("connection refused"), "{err}");
    assert!(
        err.contains("failed over from dns1 to dns2, verified"),
        "{err}"
    );
    assert_eq!(p.first_nameserver(), p.dns2.ip);
    assert_eq!(p.resolve(), Some(vec![GOOD.to_string()]));
    let text = std::fs::read_to_string(p.env.path("resolv.conf")).unwrap();
    assert!(
        text.starts_with("# for the failover tests\nsearch plant\n")
            && text.ends_with("options timeout:1 attempts:2\n"),
        "other lines kept: {text}"
    );
    assert_eq!(p.fence_log(), "fenced dns1\n");

    let status = p.failover(&["--status"]);
    let s = stdout(&status);
    assert!(s.contains("last failover: dns1 → dns2"), "{s}");
    assert!(
        s.contains("fenced dns1") && s.contains("promoted dns2"),
        "{s}"
    );
}

#[test]
fn a_stopped_active_that_holds_its_socket_times_out_and_is_failed_over() {
    let p = pair();
    p.dns1.signal("STOP");
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("dns1 (active) timeout"), "{err}");
    assert_eq!(p.first_nameserver(), p.dns2.ip);
    assert_eq!(p.resolve(), Some(vec![GOOD.to_string()]));
}

#[test]
fn a_wrong_answer_or_nxdomain_is_not_healthy() {
    let p = pair_with(Some("10.9.9.9"), "");
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("dns1 (active) wrong answer: 10.9.9.9"),
        "{err}"
    );
    assert_eq!(p.first_nameserver(), p.dns2.ip);

    let p = pair_with(None, "");
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("dns1 (active) NXDOMAIN"), "{err}");
    assert_eq!(p.first_nameserver(), p.dns2.ip);
}

#[test]
fn a_pause_shorter_than_fall_rounds_fails_nothing_over() {
    let p = pair();
    p.dns1.signal("STOP");
    let (child, rx) = p.spawn(&[]);
    let mut seen = vec![];
    wait_line(&rx, "dns1 failed 1 of 3 rounds", &mut seen);
    p.dns1.signal("CONT");
    let out = child.wait_with_output().unwrap();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(5)) {
        seen.push(l);
    }
    let all = seen.join("\n");
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("dns1 is healthy: nothing to do"), "{all}");
    assert_eq!(p.first_nameserver(), p.dns1.ip);
    assert_eq!(p.fence_log(), "");
}

#[test]
fn a_failed_fence_forces_the_promotion_and_the_alert_says_so() {
    let mail_dir = Env::new();
    let smtp = SmtpServer::start(mail_dir.dir.path());
    let p = pair_with(
        Some("10.9.9.9"),
        &format!(
            "grace: 0s
fence: \"echo cannot reach {{{{ active.name }}}}; exit 3\"
promote: {{ resolv_conf: RESOLV }}
promote_forced: \"printf 'nameserver %s\\n' {{{{ standby.ip }}}} > RESOLV && touch forced\"
notify:
  email: {{ to: [oncall@example.com], from: tend@example.com, smtp: {{ host: 127.0.0.1, port: {}, tls: none }} }}
",
            smtp.port
        ),
    );
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("fence dns1") && err.contains("exit status 3"),
        "{err}"
    );
    assert!(err.contains("dns1 may still be serving"), "{err}");
    assert!(err.contains("promote dns2 (forced)"), "{err}");
    assert!(p.env.path("forced").exists(), "promote_forced ran");
    assert_eq!(p.first_nameserver(), p.dns2.ip);
    let mail = smtp.wait_for_messages(1).remove(0);
    let mail = crate::harness::smtp::readable(&mail);
    assert!(
        mail.contains("failed over from dns1 to dns2 (FORCED)"),
        "{mail}"
    );
    assert!(mail.contains("dns1 may still be serving"), "{mail}");
}

#[test]
fn when_both_are_down_nothing_changes_and_oncall_is_told() {
    let mail_dir = Env::new();
    let smtp = SmtpServer::start(mail_dir.dir.path());
    let mut p = pair_with(
        Some(GOOD),
        &format!(
            "grace: 0s
fence: \"echo fenced {{{{ active.name }}}} >> fence.log\"
promote: {{ resolv_conf: RESOLV }}
notify:
  email: {{ to: [oncall@example.com], from: tend@example.com, smtp: {{ host: 127.0.0.1, port: {}, tls: none }} }}
",
            smtp.port
        ),
    );
    p.dns1.kill();
    p.dns2.kill();
    let before = std::fs::read_to_string(p.env.path("resolv.conf")).unwrap();
    // The dry run ends as the real run will, in every output style.
    for style in ["plain", "json"] {
        let out = p.failover(&["--dry-run", "--output", style]);
        assert_eq!(out.status.code(), Some(1), "{style}: {}", stdout(&out));
        assert!(
            stdout(&out).contains("no standby answers"),
            "{}",
            stdout(&out)
        );
    }
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no healthy standby"), "{err}");
    assert_eq!(
        std::fs::read_to_string(p.env.path("resolv.conf")).unwrap(),
        before
    );
    assert_eq!(p.fence_log(), "", "nothing was fenced");
    let mail = smtp.wait_for_messages(1).remove(0);
    let mail = crate::harness::smtp::readable(&mail);
    assert!(mail.contains("dns1 down, no healthy standby"), "{mail}");
    // Cron runs again a minute later: the same condition is not mailed again.
    let out = p.failover(&[]);
    assert_eq!(out.status.code(), Some(1));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn before_the_grace_has_passed_nothing_is_done() {
    let mut p = pair_with(
        Some(GOOD),
        "grace: 1h\nfence: \"echo fenced >> fence.log\"\npromote: { resolv_conf: RESOLV }\n",
    );
    p.dns1.kill();
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("failing over after grace 1h"), "{err}");
    assert_eq!(p.first_nameserver(), p.dns1.ip);
    assert_eq!(p.fence_log(), "");
    // --now skips the grace.
    let out = p.failover(&["--now"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(p.first_nameserver(), p.dns2.ip);
}

#[test]
fn hold_down_prevents_a_second_failover_and_a_failback() {
    let mut p = pair();
    p.dns1.kill();
    assert_eq!(p.failover(&[]).status.code(), Some(0));
    assert_eq!(p.first_nameserver(), p.dns2.ip);
    // dns1 is back, dns2 dies: failing back would flap.
    p.dns1.launch();
    p.dns2.kill();
    // The dry run says so too, and ends as the run will.
    let dry = p.failover(&["--dry-run"]);
    assert_eq!(dry.status.code(), Some(1), "{}", stdout(&dry));
    assert!(
        stdout(&dry).contains("no second failover within hold_down 10m"),
        "{}",
        stdout(&dry)
    );
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no second failover (and no failback) within hold_down 10m"),
        "{err}"
    );
    assert_eq!(p.first_nameserver(), p.dns2.ip);
    assert_eq!(p.fence_log(), "fenced dns1\n");
}

#[test]
fn a_run_killed_after_the_fence_resumes_without_fencing_again() {
    let mut p = pair_with(
        Some(GOOD),
        "grace: 0s
fence: \"echo fenced {{ active.name }} >> fence.log\"
promote: \"touch promoting; while [ ! -e go ]; do kill -0 $PPID 2>/dev/null || exit 9; sleep 0.02; done; kill -0 $PPID 2>/dev/null || exit 9; printf 'nameserver %s\\n' {{ standby.ip }} > RESOLV\"
",
    );
    p.dns1.kill();
    let (mut child, _rx) = p.spawn(&[]);
    crate::harness::wait_for("the promotion to start", Duration::from_secs(20), || {
        p.env.path("promoting").exists()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(p.fence_log(), "fenced dns1\n");
    assert_eq!(p.first_nameserver(), p.dns1.ip, "not promoted yet");
    std::fs::write(p.env.path("go"), "").unwrap();
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("resuming the failover from dns1 to dns2"),
        "{err}"
    );
    assert_eq!(p.fence_log(), "fenced dns1\n", "fenced once");
    assert_eq!(p.first_nameserver(), p.dns2.ip);
}

#[test]
fn a_resolv_file_rewritten_behind_tends_back_is_alerted() {
    let mail_dir = Env::new();
    let smtp = SmtpServer::start(mail_dir.dir.path());
    let mut p = pair_with(
        Some(GOOD),
        &format!(
            "grace: 0s
promote: {{ resolv_conf: RESOLV }}
notify:
  email: {{ to: [oncall@example.com], from: tend@example.com, on: [drift], smtp: {{ host: 127.0.0.1, port: {}, tls: none }} }}
",
            smtp.port
        ),
    );
    p.dns1.kill();
    assert_eq!(p.failover(&[]).status.code(), Some(0));
    p.dns1.launch();
    // DHCP puts dns1 back first.
    p.env.write(
        "resolv.conf",
        &format!("nameserver {}\nnameserver {}\n", p.dns1.ip, p.dns2.ip),
    );
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert!(err.contains("no longer says what tend wrote"), "{err}");
    let mail = smtp.wait_for_messages(1).remove(0);
    let mail = crate::harness::smtp::readable(&mail);
    assert!(
        mail.contains("resolv file rewritten behind tend's back"),
        "{mail}"
    );
}

#[test]
fn watch_fails_over_once_and_keeps_running() {
    let mut p = pair();
    let (child, rx) = p.spawn(&["--watch"]);
    let mut seen = vec![];
    wait_line(&rx, "dns1 (active) answered", &mut seen);
    p.dns1.kill();
    wait_line(&rx, "failed over from dns1 to dns2, verified", &mut seen);
    // Still probing afterwards, with dns2 active and no second failover.
    wait_line(&rx, "dns2 (active) answered", &mut seen);
    wait_line(&rx, "dns2 (active) answered", &mut seen);
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", seen.join("\n"));
    let all = seen.join("\n");
    assert_eq!(all.matches("failed over from").count(), 1, "{all}");
    assert_eq!(p.fence_log(), "fenced dns1\n");
}

#[test]
fn malformed_values_are_clear_errors_at_validation() {
    let env = Env::new();
    let base = "kind: failover
servers:
  - { name: dns1, address: \"ADDR1\" }
  - { name: dns2, address: 10.0.0.54 }
probe: { name: exoticplant.plant, type: TYPE, expect: [10.1.0.10] }
active: { state_file: active.txt }
promote: \"true\"
";
    let cases = [
        (
            base.replace("ADDR1", "dns1.internal").replace("TYPE", "A"),
            "'dns1.internal' is not an IP address",
        ),
        (
            base.replace("ADDR1", "10.0.0.53").replace("TYPE", "AXX"),
            "unknown record type 'AXX'",
        ),
        (
            base.replace("ADDR1", "10.0.0.53")
                .replace("TYPE", "A")
                .replace("  - { name: dns2, address: 10.0.0.54 }\n", ""),
            "a failover needs at least two servers",
        ),
        (
            base.replace("ADDR1", "10.0.0.53").replace("TYPE", "AAAA"),
            "is not an address a AAAA record can hold",
        ),
    ];
    for (text, want) in cases {
        let path = env.write("bad.yaml", &text);
        let out = env.tend().arg("validate").arg(&path).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(64), "{text}\n{err}");
        assert!(err.contains(want), "{want:?} not in:\n{err}");
        assert!(err.contains("bad.yaml:"), "{err}");
    }
}

#[test]
fn validate_warns_about_a_resolved_stub_and_the_default_timeout() {
    let env = Env::new();
    env.write("resolv.conf", "nameserver 127.0.0.53\n");
    let p = env.write(
        "dns.yaml",
        &format!(
            "kind: failover
servers: [ {{ name: dns1, address: 10.0.0.53 }}, {{ name: dns2, address: 10.0.0.54 }} ]
probe: {{ name: exoticplant.plant }}
active: {{ resolv_conf: {0} }}
promote: {{ resolv_conf: {0} }}
",
            env.path("resolv.conf").display()
        ),
    );
    let out = env.tend().arg("validate").arg(&p).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("127.0.0.53 (systemd-resolved)"), "{err}");
    assert!(err.contains("default 5 s `options timeout`"), "{err}");
}

#[test]
fn a_run_killed_after_promoting_but_before_recording_it_is_recorded_next_time() {
    let mut p = pair_with(
        Some(GOOD),
        "grace: 0s
fence: \"echo fenced {{ active.name }} >> fence.log\"
promote: \"printf 'nameserver %s\\n' {{ standby.ip }} > RESOLV; touch promoted; while kill -0 $PPID 2>/dev/null; do sleep 0.02; done\"
",
    );
    p.dns1.kill();
    let (mut child, _rx) = p.spawn(&[]);
    crate::harness::wait_for("the promotion to happen", Duration::from_secs(20), || {
        p.env.path("promoted").exists()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("completed, but the run was stopped before recording it"),
        "{err}"
    );
    assert!(err.contains("dns2 is healthy: nothing to do"), "{err}");
    assert_eq!(p.fence_log(), "fenced dns1\n");
    let s = stdout(&p.failover(&["--status"]));
    assert!(s.contains("last failover: dns1 → dns2"), "{s}");
    assert!(!s.contains("failover under way"), "{s}");
}

#[test]
fn a_truncated_answer_is_asked_again_over_tcp() {
    let p = pair();
    // 60 addresses do not fit in a 512-byte UDP answer: dnsmasq sets TC, tend asks over TCP.
    let mut hosts = String::new();
    for i in 1..=60 {
        hosts += &format!("10.1.0.{i} {}\n", crate::harness::dns::NAME);
    }
    std::fs::write(p.env.path("dns1.hosts"), hosts).unwrap();
    p.dns1.reload();
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let round = err.lines().find(|l| l.contains("round 1:")).unwrap();
    let dns1 = round.split("; dns2").next().unwrap();
    assert!(dns1.contains("dns1 (active) answered"), "{err}");
    assert_eq!(
        dns1.matches("10.1.0.").count(),
        60,
        "all 60 came back: {err}"
    );
}

#[test]
fn a_promotion_that_cannot_be_verified_exits_2() {
    let mut p = pair_with(
        Some(GOOD),
        "grace: 0s\nfence: \"true\"\npromote: \"kill -9 $(cat {{ standby.name }}.pid)\"\n",
    );
    p.dns1.kill();
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("verify dns2"), "{err}");
    assert!(err.contains("NOT verified. A human is needed now"), "{err}");
}

#[test]
fn the_active_can_come_from_a_command_or_a_state_file() {
    let mut p = pair_with(
        Some(GOOD),
        "grace: 0s\nfence: \"true\"\npromote: \"echo promoting {{ standby.name }}\"\n",
    );
    let text = std::fs::read_to_string(p.env.path("dns.yaml")).unwrap();
    let resolv_line = text
        .lines()
        .find(|l| l.starts_with("active:"))
        .unwrap()
        .to_string();
    p.env.write(
        "dns.yaml",
        &text.replace(&resolv_line, "active: { state_file: active.txt }"),
    );
    p.dns1.kill();
    let out = p.failover(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(p.env.path("active.txt")).unwrap(),
        "dns2\n",
        "tend records the new active in the state file"
    );

    let text = std::fs::read_to_string(p.env.path("dns.yaml")).unwrap();
    p.env.write(
        "dns.yaml",
        &text.replace(
            "active: { state_file: active.txt }",
            "active: { command: \"echo dns2\" }",
        ),
    );
    let out = p.failover(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("dns2 (active) answered"), "{err}");
}

#[test]
fn dry_run_shows_the_decision_and_changes_nothing() {
    let mut p = pair();
    p.dns1.kill();
    let before = std::fs::read_to_string(p.env.path("resolv.conf")).unwrap();
    let out = p.failover(&["--dry-run"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    for want in [
        "active: dns1",
        "dns1 (",
        "connection refused",
        "fail over to dns2",
        "1. check the standby: dns2 answers A",
        "2. fence dns1: kill -9",
        "3. probe dns1 after the fence: ",
        "4. promote dns2: rewrite",
        "5. verify dns2: dns2 answers A",
        "dry run: nothing was done",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    assert_eq!(
        std::fs::read_to_string(p.env.path("resolv.conf")).unwrap(),
        before
    );
    assert_eq!(p.fence_log(), "");
    let plan = p.env.tend().args(["plan", "dns.yaml"]).output().unwrap();
    assert_eq!(stdout(&plan), text, "`tend plan` is the dry run");
    let shown = text
        .replace(&p.env.dir.path().display().to_string(), "DIR")
        .replace(&format!("{}:{}", p.dns1.ip, p.dns1.port), "DNS1")
        .replace(&format!("{}:{}", p.dns2.ip, p.dns2.port), "DNS2")
        .replace(&p.dns2.ip, "IP2");
    assert_eq!(
        shown,
        r#"active: dns1 (DNS1)
  dns1 (DNS1): connection refused
  dns2 (DNS2): answered 10.1.0.10
decision: if dns1 fails 3 rounds in a row and stays down for grace 0s, fail over to dns2:
  1. check the standby: dns2 answers A exoticplant.plant
  2. fence dns1: kill -9 $(cat dns1.pid) 2>/dev/null; echo fenced dns1 >> fence.log
  3. probe dns1 after the fence: if it still answers (or the fence failed), the promotion is forced
  4. promote dns2: rewrite DIR/resolv.conf with nameserver IP2 first
  5. verify dns2: dns2 answers A exoticplant.plant
dry run: nothing was done
"#
    );

    // The same steps, named as the real sequence names them, as one JSON document.
    let json = p
        .env
        .tend()
        .args(["plan", "dns.yaml", "--output", "json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let steps: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "check the standby",
            "fence dns1",
            "probe dns1 after the fence",
            "promote dns2",
            "verify dns2"
        ]
    );
    assert_eq!(doc["active"], "dns1");
    assert_eq!(doc["dry_run"], true);

    // With `fall: 1` and no grace, one failed round is a failover: the dry run says so.
    let text = std::fs::read_to_string(p.env.path("dns.yaml")).unwrap();
    p.env.write("dns.yaml", &text.replace("fall: 3", "fall: 1"));
    let out = p.failover(&["--dry-run"]);
    assert!(
        stdout(&out).contains("decision: dns1 is down: tend fails over to dns2 now:\n"),
        "{}",
        stdout(&out)
    );
}

mod over_ssh {
    use super::*;
    use crate::harness::sshd::Sshd;

    /// dns1 and dns2 reached over a real sshd for their fence and promote commands.
    fn pair_over_ssh(
        sshd: &Sshd,
        identity: &std::path::Path,
        known_hosts: &str,
        check: &str,
    ) -> Pair {
        let p = pair_with(
            Some(GOOD),
            "grace: 0s\nfence: \"echo fenced {{ active.name }} over ${SSH_CONNECTION:+ssh} >> DIR/fence.log; kill -9 $(cat DIR/{{ active.name }}.pid)\"\npromote: { resolv_conf: RESOLV }\n",
        );
        let dir = p.env.dir.path().display().to_string();
        let kh = p.env.write("known_hosts", known_hosts);
        let text = std::fs::read_to_string(p.env.path("dns.yaml"))
            .unwrap()
            .replace("DIR", &dir)
            .replace(
                &format!("address: \"{}\" }}", p.dns1.address()),
                &format!(
                    "address: \"{}\", host: \"root@127.0.0.1:{}\" }}",
                    p.dns1.address(),
                    sshd.port
                ),
            )
            + &format!(
                "ssh: {{ identity: {}, known_hosts: {}, host_key_check: {check} }}\n",
                identity.display(),
                kh.display()
            );
        p.env.write("dns.yaml", &text);
        p
    }

    #[test]
    fn the_fence_runs_on_the_active_servers_host_over_ssh() {
        let dir = tempfile::tempdir().unwrap();
        let sshd = Sshd::start(dir.path());
        let mut p = pair_over_ssh(&sshd, &sshd.key, &sshd.known_hosts_line, "strict");
        p.dns1.signal("STOP");
        let out = p.failover(&[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert_eq!(p.fence_log(), "fenced dns1 over ssh\n", "{err}");
        assert!(!err.contains("(forced)"), "the fence worked: {err}");
        assert_eq!(p.first_nameserver(), p.dns2.ip);
        assert!(!p.dns1.running(), "the fence really stopped dns1");
    }

    #[test]
    fn an_unknown_host_key_is_refused_with_its_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let sshd = Sshd::start(dir.path());
        let mut p = pair_over_ssh(&sshd, &sshd.key, "", "strict");
        p.dns1.kill();
        let out = p.failover(&[]);
        let err = stderr(&out);
        assert!(
            err.contains("unknown host key: ED25519 key fingerprint is"),
            "{err}"
        );
        assert!(
            err.contains(&sshd.fingerprint),
            "{} not in {err}",
            sshd.fingerprint
        );
        assert!(
            err.contains("promote dns2 (forced)"),
            "a failed fence forces: {err}"
        );
        assert_eq!(p.fence_log(), "", "nothing ran on the unverified host");
    }

    #[test]
    fn a_changed_key_is_refused_even_with_accept_new_and_a_new_one_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let sshd = Sshd::start(dir.path());
        let other = Sshd::start(dir.path());
        // known_hosts says [127.0.0.1]:PORT has the other server's key.
        let wrong = other
            .known_hosts_line
            .replace(&format!(":{} ", other.port), &format!(":{} ", sshd.port));
        let mut p = pair_over_ssh(&sshd, &sshd.key, &wrong, "accept_new");
        p.dns1.kill();
        let err = stderr(&p.failover(&[]));
        assert!(err.contains("REMOTE HOST KEY HAS CHANGED"), "{err}");
        assert!(err.contains(&sshd.fingerprint), "{err}");

        let p = pair_over_ssh(&sshd, &sshd.key, "", "accept_new");
        p.dns1.signal("STOP");
        let out = p.failover(&[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(err.contains("new host, ED25519 key"), "{err}");
        assert_eq!(p.fence_log(), "fenced dns1 over ssh\n");
        let kh = std::fs::read_to_string(p.env.path("known_hosts")).unwrap();
        assert!(kh.contains("ssh-ed25519"), "{kh}");
    }

    #[test]
    fn a_wrong_key_is_an_auth_error_naming_user_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let sshd = Sshd::start(dir.path());
        let other = Sshd::start(dir.path());
        let mut p = pair_over_ssh(&sshd, &other.key, &sshd.known_hosts_line, "strict");
        p.dns1.kill();
        let err = stderr(&p.failover(&[]));
        assert!(
            err.contains("authentication failed for user root")
                && err.contains(&other.key.display().to_string()),
            "{err}"
        );
    }
}
