//! The secret canary: one secret, on three lines and full of quotes, used wherever a playbook
//! can use a value, through every subcommand and every output mode. Then everything tend wrote
//! (stdout and stderr, state dirs, deploy roots here and on the SSH host, journals, the mail
//! the SMTP server received, the prom file) is searched for it: not one hit.

use std::path::Path;
use std::process::Output;

use crate::harness::deploy::Shop;
use crate::harness::failover::{GOOD, pair_with};
use crate::harness::fleet::Fleet;
use crate::harness::smtp::SmtpServer;
use crate::harness::{Env, stderr};

/// Each line carries a token that no quoting or escaping can split (letters, digits, `-`), so
/// every form tend could write it in contains the token.
const CANARY: &str =
    "c4n4ry-L1x9 'sq' \"dq\" \\bs $(sub) `bt`\nc4n4ry-L2y8 it's \"quoted\"\nc4n4ry-L3z7";
const TOKENS: &[&str] = &["c4n4ry-L1x9", "c4n4ry-L2y8", "c4n4ry-L3z7"];

fn clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for t in TOKENS {
        assert!(
            !text.contains(t),
            "the secret ({t}) leaked into {what}:\n{text}"
        );
    }
}

/// Every file under `dir`, searched.
fn clean_tree(dir: &Path) {
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            clean(&entry.path().display().to_string(), &bytes);
        }
    }
}

/// Runs, with the canary in the environment; their output is searched at the end.
struct Runs {
    outputs: Vec<(String, Output)>,
}

impl Runs {
    fn run(&mut self, what: &str, mut cmd: assert_cmd::Command) -> Output {
        let out = cmd.env("CANARY", CANARY).output().unwrap();
        self.outputs.push((what.to_string(), out.clone()));
        out
    }

    fn check_all(&self) {
        for (what, out) in &self.outputs {
            clean(&format!("stdout of {what}"), &out.stdout);
            clean(&format!("stderr of {what}"), &out.stderr);
        }
    }
}

fn email(port: u16, on: &str) -> String {
    format!(
        "notify: {{ email: {{ to: [oncall@example.com], from: tend@example.com, on: [{on}], smtp: {{ host: 127.0.0.1, port: {port}, tls: none }} }} }}\n"
    )
}

const SECRETS: &str = "secrets: { token: { env: CANARY } }\n";

#[test]
fn a_secret_never_reaches_any_output_file_journal_or_mail() {
    let mail = Env::new();
    let smtp = SmtpServer::start(mail.dir.path());
    let mut runs = Runs { outputs: vec![] };

    // A deploy on this machine whose steps print the secret, and whose start fails on a bad
    // build with the secret as its last line (that line is the failure's message).
    let shop = Shop::with_playbook(|p| {
        p.replace(
            "name: shop\n",
            &format!(
                "name: shop\n{SECRETS}{}",
                email(smtp.port, "failure, rollback, success")
            ),
        )
        .replace(
            "start: [ \"bin/start\" ]",
            "start: [ \"bin/start\", \"echo {{ token }}\", \"printf '%s\\\\n' {{ token }}; test ! -e BAD\" ]",
        )
        .replace(
            "  verify:\n",
            "  verify:\n    - { command: \"printf '%s\\\\n' \\\"{{ token }}\\\"\" }\n",
        )
    });
    let deploy = |v: &str, bad: bool, output: &str| {
        let sha = shop.artifact(v, bad);
        let mut c = shop.env.tend();
        c.args(["-v", "--output", output, "deploy", "shop.yaml", "--var"])
            .arg(format!("version={v}"))
            .arg("--var")
            .arg(format!("sha={sha}"));
        c
    };
    let out = runs.run("deploy v1", deploy("v1", false, "plain"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = runs.run("deploy of a bad v2", deploy("v2", true, "json"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = runs.run("deploy v3", deploy("v3", false, "human"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut c = shop.env.tend();
    c.args(["-v", "--output", "plain", "rollback", "shop.yaml"]);
    let out = runs.run("rollback", c);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Drills, whose steps print the secret, with their game-day reports (searched with the
    // rest of the directory at the end).
    let out = runs.run("deploy v3 again", deploy("v3", false, "plain"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for output in ["plain", "json"] {
        let mut c = shop.env.tend();
        c.args(["-v", "--output", output, "drill", "shop.yaml", "--yes"])
            .args(["--report", &format!("gameday-{output}.md")]);
        let out = runs.run("drill", c);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(shop.env.path(&format!("gameday-{output}.md")).exists());
    }
    for output in ["plain", "json"] {
        let mut c = shop.env.tend();
        c.args(["--output", output, "releases", "shop.yaml"]);
        runs.run("releases", c);
        let mut c = shop.env.tend();
        c.args(["--output", output, "history"]);
        runs.run("history", c);
    }
    let journal = std::fs::read_dir(shop.env.state().join("journal")).unwrap();
    let text: String = journal
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    let ids: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["run"].as_str().map(String::from))
        .collect();
    assert!(ids.len() >= 4, "{ids:?}");
    for id in &ids {
        for output in ["plain", "json"] {
            let mut c = shop.env.tend();
            c.args(["--output", output, "history", "show", id]);
            runs.run("history show", c);
        }
    }
    let rec = &shop.journal()["releases"][1];
    assert_eq!(rec["release"], "v2");
    assert!(
        rec["message"].as_str().unwrap().contains("***"),
        "the failure's message was masked: {rec}"
    );

    // The same deploy to a host over SSH: its journal sits on the host.
    let fleet = Fleet::new(1, 1, "{ batches: [1] }");
    fleet.edit(|p| {
        p.replace("name: shop\n", &format!("name: shop\n{SECRETS}"))
            .replace(
                "start: [ \"env BAD_VERSIONS",
                "start: [ \"printf '%s\\\\n' {{ token }}; test ! -e BAD\", \"env BAD_VERSIONS",
            )
    });
    for (v, bad, code) in [("v1", false, 0), ("v2", true, 1)] {
        let sha = fleet.shop.artifact(v, bad);
        let mut c = fleet.shop.env.tend();
        c.args(["-v", "deploy", "shop.yaml", "--var"])
            .arg(format!("version={v}"))
            .arg("--var")
            .arg(format!("sha={sha}"));
        let out = runs.run("fleet deploy", c);
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    }

    // A check named after the secret, whose probe prints it and fails: every output, the
    // alert, its state file and the prom file.
    let check = Env::new();
    let am = crate::harness::prometheus::Alertmanager::start(check.dir.path());
    let pd = crate::harness::http::PagerDuty::start(check.dir.path());
    let channels = email(smtp.port, "critical, recovery").replacen(
        "notify: {",
        &format!(
            "notify: {{ alertmanager: {{ url: \"{}\" }}, webhook: {{ format: pagerduty, url: \"{}\", routing_key: r0ut1ng }},",
            am.url(),
            pd.url()
        ),
        1,
    );
    check.write(
        "check.yaml",
        &format!(
            "kind: check\n{SECRETS}{channels}checks:\n  - probe: {{ command: \"printf '%s\\\\n' {{{{ token }}}}; test -e ok\" }}\n    name: \"api {{{{ token }}}}\"\n    runbook: \"https://wiki.example/{{{{ token }}}}\"\n",
        ),
    );
    for output in ["nagios", "json", "plain", "human"] {
        let mut c = check.tend();
        c.args([
            "-v",
            "--output",
            output,
            "check",
            "check.yaml",
            "--prom-file",
            "tend.prom",
        ]);
        let out = runs.run("check", c);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    }
    // What Alertmanager holds of the alert, before the recovery resolves it.
    let alerts = am.alerts().to_string();
    assert!(alerts.contains("api ***"), "{alerts}");
    clean("Alertmanager's alerts", alerts.as_bytes());
    check.write("ok", "");
    let mut c = check.tend();
    c.args(["check", "check.yaml", "--prom-file", "tend.prom"]);
    let out = runs.run("check recovered", c);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let events = pd.events();
    assert!(events.len() >= 2, "{events:?}");
    clean("PagerDuty's events", format!("{events:?}").as_bytes());

    // A failover whose fence prints the secret, with alerts.
    let mut p = pair_with(
        Some(GOOD),
        &format!(
            "grace: 0s\nfence: \"printf '%s\\\\n' {{{{ token }}}}; echo fenced >> fence.log\"\npromote: {{ resolv_conf: RESOLV }}\n{SECRETS}{}",
            email(smtp.port, "failover, failure")
        ),
    );
    p.dns1.kill();
    let mut c = p.env.tend();
    c.args(["-v", "failover", "--now", "dns.yaml"]);
    let out = runs.run("failover", c);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A cleanup holding the secret, with an alert.
    let cleanup = Env::new();
    let logs = cleanup.path("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("app.log"), "a line\n".repeat(100)).unwrap();
    cleanup.write(
        "cleanup.yaml",
        &format!(
            "kind: cleanup\n{SECRETS}{}rules:\n  - {{ path: {}, match: [\"*.log\"], action: compress }}\n",
            email(smtp.port, "success"),
            logs.display()
        ),
    );
    let mut c = cleanup.tend();
    c.args(["-v", "cleanup", "cleanup.yaml"]);
    let out = runs.run("cleanup", c);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The same check and cleanup across hosts, with a remedy that prints the secret: tend runs
    // on the host with the secret on its stdin, and nothing on the host keeps it.
    let hosts = crate::harness::hosts::Hosts::new(1);
    let logs = hosts.dir(0).join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("app.log"), "a line\n".repeat(100)).unwrap();
    hosts.env.write(
        "fleet-check.yaml",
        &format!(
            "kind: check\n{SECRETS}{}{}checks:\n  - probe: {{ command: \"printf '%s\\\\n' {{{{ token }}}}; false\" }}\n    name: \"api {{{{ token }}}}\"\n    remedy: {{ run: \"printf '%s\\\\n' {{{{ token }}}}\" }}\n",
            hosts.yaml(&[]),
            email(smtp.port, "critical, remedy"),
        ),
    );
    hosts.env.write(
        "fleet-cleanup.yaml",
        &format!(
            "kind: cleanup\n{SECRETS}{}rules:\n  - {{ name: \"logs {{{{ token }}}}\", path: {}, match: [\"*.log\"], action: compress }}\n",
            hosts.yaml(&[]),
            logs.display()
        ),
    );
    for output in ["json", "plain"] {
        let mut c = hosts.env.tend();
        c.args(["-v", "--output", output, "check", "fleet-check.yaml"]);
        let out = runs.run("fleet check", c);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    }
    let mut c = hosts.env.tend();
    c.args(["-v", "cleanup", "fleet-cleanup.yaml"]);
    let out = runs.run("fleet cleanup", c);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(logs.join("app.log.gz").exists());

    // The mail arrived (so it was searched, not missed), and nothing anywhere holds the secret.
    let mails = smtp.messages();
    assert!(mails.len() >= 6, "{} mails", mails.len());
    assert!(
        mails.iter().any(|m| m.contains("***")),
        "some alert showed the mask"
    );
    runs.check_all();
    for m in &mails {
        clean("a mail", m.as_bytes());
    }
    for dir in [
        &shop.env.dir,
        &fleet.shop.env.dir,
        &check.dir,
        &p.env.dir,
        &cleanup.dir,
        &mail.dir,
        &hosts.env.dir,
    ] {
        clean_tree(dir.path());
    }
}

#[test]
fn a_var_that_contains_a_secrets_text_is_not_masked_in_what_a_rollback_runs() {
    // A short secret masks its text everywhere in output; the vars a rollback renders its
    // commands from must still be the real ones.
    let shop = Shop::with_playbook(|p| {
        p.replace("name: shop\n", &format!("name: shop\n{SECRETS}"))
            .replace("  greeting: hello\n", "  greeting: hello-world\n")
            .replace(
                "  verify:\n",
                "  verify:\n    - { command: \"test {{ greeting }} = hello-world\" }\n",
            )
    });
    let deploy = |v: &str, bad: bool| {
        let sha = shop.artifact(v, bad);
        shop.env
            .tend()
            .env("CANARY", "hello")
            .args(["deploy", "shop.yaml", "--var"])
            .arg(format!("version={v}"))
            .arg("--var")
            .arg(format!("sha={sha}"))
            .output()
            .unwrap()
    };
    assert_eq!(deploy("v1", false).status.code(), Some(0));
    let out = deploy("v2", true);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello-world");
    assert_eq!(
        shop.journal()["releases"][0]["vars"]["greeting"],
        "hello-world"
    );
}
