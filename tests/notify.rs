//! Alerts through a real SMTP server and a real webhook endpoint.

use crate::harness::run::Runs;
use crate::harness::smtp::{SmtpServer, readable};
use crate::harness::{Env, http::HttpServer, stderr};

fn playbook(smtp_port: u16, disk_crit: u32, extra: &str) -> String {
    format!(
        "kind: check
name: host-health
runbook: https://wiki.example.internal/runbooks/host-health
first_steps: [\"df -h /var/log\", \"tend cleanup playbooks/cleanup-app-logs.yaml --dry-run\"]
notify:
  email:
    to: [oncall@example.com]
    from: tend@example.com
    smtp: {{ host: 127.0.0.1, port: {smtp_port}, tls: none }}
{extra}checks:
  - memory: {{ warn: 100, crit: 100 }}
  - disk: {{ mount: /, warn: {disk_crit}, crit: {disk_crit} }}
    first_steps: [\"du -xsh /var/log/* | sort -h | tail\"]
"
    )
}

#[test]
fn email_on_change_not_every_run_then_recovery() {
    let env = Env::new();
    let smtp = SmtpServer::start(env.dir.path());
    let p = env.write("health.yaml", &playbook(smtp.port, 0, ""));

    env.tend().arg("check").arg(&p).assert().code(2);
    let msgs = smtp.wait_for_messages(1);
    let m = readable(&msgs[0]);
    let host = rustix_hostname();
    assert!(
        m.contains(&format!("Subject: [tend] {host}: CRITICAL disk / ")),
        "{m}"
    );
    assert!(m.contains("To: oncall@example.com"), "{m}");
    assert!(m.contains("threshold:  critical above 0%"), "{m}");
    assert!(m.contains("since:"), "{m}");
    assert!(
        m.contains("du -xsh /var/log/* | sort -h | tail"),
        "per-check first step: {m}"
    );
    assert!(
        m.contains("Runbook: https://wiki.example.internal/runbooks/host-health"),
        "{m}"
    );
    assert!(m.contains("1. df -h /var/log"), "{m}");
    assert!(
        m.contains("OK        memory"),
        "the other checks' states: {m}"
    );

    // Still critical: no second email.
    env.tend().arg("check").arg(&p).assert().code(2);
    assert_eq!(
        smtp.messages().len(),
        1,
        "a cron job every minute must not flood the inbox"
    );

    // Recovered.
    std::fs::write(&p, playbook(smtp.port, 100, "")).unwrap();
    env.tend().arg("check").arg(&p).assert().code(0);
    let msgs = smtp.wait_for_messages(2);
    let m = readable(&msgs[1]);
    assert!(
        m.contains(&format!("Subject: [tend] {host}: RECOVERED disk / ")),
        "{m}"
    );
    assert!(m.contains("was:        CRITICAL"), "{m}");
}

#[test]
fn starttls_with_auth_from_secrets() {
    let env = Env::new();
    let (smtp, ca) = SmtpServer::start_tls(env.dir.path(), "alerts", "s3cret-pw");
    let text = |ca: &std::path::Path| {
        format!(
            "kind: check
notify:
  email:
    to: [oncall@example.com]
    from: tend@example.com
    smtp:
      host: 127.0.0.1
      port: {}
      tls: starttls
      ca_file: {}
      username: {{ env: SMTP_USER }}
      password: {{ env: SMTP_PASS }}
checks:
  - disk: {{ mount: /, warn: 0, crit: 0 }}
",
            smtp.port,
            ca.display()
        )
    };
    let p = env.write("tls.yaml", &text(&ca));
    let run = |pass: &str| {
        env.tend()
            .arg("check")
            .arg(&p)
            .env("SMTP_USER", "alerts")
            .env("SMTP_PASS", pass)
            .output()
            .unwrap()
    };
    // A wrong password is refused by the server; the password never shows.
    let out = run("wrong-pw-123");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("alert not delivered: email:") && err.contains("535"),
        "{err}"
    );
    assert!(!err.contains("wrong-pw-123"), "{err}");
    assert!(smtp.messages().is_empty());
    // A certificate from a CA nobody trusts is refused.
    let (other_ca, _, _) = crate::harness::smtp::make_certs(&env.path("other"));
    std::fs::write(&p, text(&other_ca)).unwrap();
    let out = run("s3cret-pw");
    assert!(
        stderr(&out).contains("alert not delivered"),
        "{}",
        stderr(&out)
    );
    assert!(smtp.messages().is_empty());
    // The right CA and password: delivered over TLS.
    std::fs::write(&p, text(&ca)).unwrap();
    assert_eq!(run("s3cret-pw").status.code(), Some(2));
    let msgs = smtp.wait_for_messages(1);
    assert!(
        readable(&msgs[0]).contains("CRITICAL disk /"),
        "{}",
        msgs[0]
    );
}

#[test]
fn repeat_while_bad() {
    let env = Env::new();
    let smtp = SmtpServer::start(env.dir.path());
    let p = env.write(
        "health.yaml",
        &playbook(smtp.port, 0, "alert: { repeat: 1s }\n"),
    );
    env.tend().arg("check").arg(&p).assert().code(2);
    smtp.wait_for_messages(1);
    // The repeat interval is time itself: wait it out.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    env.tend().arg("check").arg(&p).assert().code(2);
    let msgs = smtp.wait_for_messages(2);
    assert!(
        readable(&msgs[1]).contains("still CRITICAL disk /"),
        "{}",
        msgs[1]
    );
}

#[test]
fn smtp_down_is_reported_and_the_exit_code_unchanged_then_retried() {
    let env = Env::new();
    let port = crate::harness::free_port();
    let p = env.write("health.yaml", &playbook(port, 0, ""));
    let out = env
        .tend()
        .args(["check", "--output", "nagios"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("alert not delivered: email: 127.0.0.1:"),
        "{err}"
    );
    assert!(crate::harness::stdout(&out).starts_with("TEND CRITICAL - disk /"));

    // The server comes back: the undelivered alert goes out on the next run.
    drop(out);
    let smtp = SmtpServer::start(env.dir.path());
    std::fs::write(&p, playbook(smtp.port, 0, "")).unwrap();
    env.tend().arg("check").arg(&p).assert().code(2);
    assert_eq!(smtp.wait_for_messages(1).len(), 1);
}

#[test]
fn webhook_posts_slack_compatible_json() {
    let env = Env::new();
    let hook = HttpServer::start(200, "ok");
    let p = env.write(
        "hook.yaml",
        &format!(
            "kind: check\nnotify:\n  webhook: {{ url: \"{}\", on: [critical] }}\nchecks:\n  - disk: {{ mount: /, warn: 0, crit: 0 }}\n",
            hook.url("/services/T000/B000/XXXX")
        ),
    );
    let out = env
        .tend()
        .args(["check", "--output", "plain"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let reqs = hook.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 1);
    assert!(
        reqs[0].starts_with("POST /services/T000/B000/XXXX"),
        "{}",
        reqs[0]
    );
    let body = reqs[0].split("\r\n\r\n").nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(
        v["text"].as_str().unwrap().contains("CRITICAL disk /"),
        "{v}"
    );
    assert!(
        !stderr(&out).contains("XXXX"),
        "webhook tokens are not printed: {}",
        stderr(&out)
    );
}

fn rustix_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_check_alert_reaches_alertmanager_and_its_recovery_resolves_it() {
    let env = Env::new();
    let am = crate::harness::prometheus::Alertmanager::start(env.dir.path());
    let marker = env.path("backup.ok");
    let playbook = format!(
        "kind: check\nname: host-health\nchecks:\n  - file_age: {{ path: {}, max_age: 1h }}\n    name: backup\n    runbook: https://wiki.example/backup\n    first_steps: [\"ls -l /var/backups\"]\nnotify:\n  alertmanager: {{ url: \"{}\", labels: {{ team: shop }}, on: [critical, recovery] }}\n",
        marker.display(),
        am.url()
    );
    let (code, out) = env.check_nagios(&playbook);
    assert_eq!(code, 2, "{out}");
    let alerts = am.alerts();
    let a = &alerts[0];
    assert_eq!(a["labels"]["alertname"], "backup", "{alerts}");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["labels"]["job"], "tend-check");
    assert_eq!(a["labels"]["team"], "shop");
    assert_eq!(a["labels"]["playbook"], "host-health");
    assert!(
        a["labels"]["instance"]
            .as_str()
            .is_some_and(|i| !i.is_empty())
    );
    assert_eq!(
        a["annotations"]["runbook_url"],
        "https://wiki.example/backup"
    );
    assert_eq!(a["annotations"]["first_steps"], "ls -l /var/backups");
    assert_eq!(a["status"]["state"], "active");
    std::fs::write(&marker, "").unwrap();
    let (code, out) = env.check_nagios(&playbook);
    assert_eq!(code, 0, "{out}");
    let after = am.alerts();
    assert!(after.as_array().is_some_and(|a| a.is_empty()), "{after}");
}

#[test]
fn a_pagerduty_webhook_triggers_and_resolves_events_that_match_the_events_v2_schema() {
    let env = Env::new();
    let pd = crate::harness::http::PagerDuty::start(env.dir.path());
    let marker = env.path("backup.ok");
    let playbook = format!(
        "kind: check\nname: host-health\nsecrets: {{ pd_key: {{ env: PD_KEY }} }}\nchecks:\n  - file_age: {{ path: {}, max_age: 1h }}\n    name: backup\n    runbook: https://wiki.example/backup\nnotify:\n  webhook: {{ format: pagerduty, url: \"{}\", routing_key: \"{{{{ pd_key }}}}\", on: [critical, recovery] }}\n",
        marker.display(),
        pd.url()
    );
    let p = env.write("check.yaml", &playbook);
    let run = |want: i32| {
        env.tend()
            .args(["check", "--output", "nagios"])
            .arg(&p)
            .env("PD_KEY", "R0UTINGKEY0123456789abcdef012345")
            .run()
            .code(want)
            .stdout_lacks("R0UTINGKEY")
            .stderr_lacks("R0UTINGKEY");
    };
    run(2);
    std::fs::write(&marker, "").unwrap();
    run(0);
    let events = pd.events();
    assert_eq!(events.len(), 2, "{events:?}");
    let (trigger, resolve) = (&events[0], &events[1]);
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["routing_key"], "R0UTINGKEY0123456789abcdef012345");
    assert_eq!(trigger["payload"]["severity"], "critical");
    assert_eq!(trigger["payload"]["class"], "backup");
    assert_eq!(trigger["links"][0]["href"], "https://wiki.example/backup");
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], trigger["dedup_key"]);
}

#[test]
fn a_check_that_goes_from_warning_to_critical_leaves_one_alert_in_alertmanager() {
    let env = Env::new();
    let am = crate::harness::prometheus::Alertmanager::start(env.dir.path());
    let marker = env.path("backup.ok");
    std::fs::write(&marker, "").unwrap();
    let age = |hours: u64| {
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(hours * 3600);
        std::fs::File::options()
            .write(true)
            .open(&marker)
            .unwrap()
            .set_modified(t)
            .unwrap();
    };
    let playbook = format!(
        "kind: check\nchecks:\n  - file_age: {{ path: {}, warn: 1h, crit: 3h }}\n    name: backup\nnotify:\n  alertmanager: {{ url: \"{}\" }}\n",
        marker.display(),
        am.url()
    );
    age(2);
    assert_eq!(env.check_nagios(&playbook).0, 1);
    age(4);
    assert_eq!(env.check_nagios(&playbook).0, 2);
    let alerts = am.alerts();
    let active: Vec<&serde_json::Value> = alerts.as_array().unwrap().iter().collect();
    assert_eq!(active.len(), 1, "{alerts}");
    assert_eq!(active[0]["labels"]["severity"], "critical", "{alerts}");
}
