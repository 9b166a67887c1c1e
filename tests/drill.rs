//! `tend drill`: a playbook's failure path rehearsed for real, timed and reported: a deploy's
//! rollback and the way back on the real app, on one machine and on a fleet over SSH.

use std::time::Duration;

use crate::harness::deploy::Shop;
use crate::harness::fleet::Fleet;
use crate::harness::run::Run;
use crate::harness::wait_for;

/// v1 then v2 deployed and verified: a drill rolls back to v1 and forward to v2.
fn shop_on_v2(edit: impl FnOnce(String) -> String) -> Shop {
    let shop = Shop::with_playbook(edit);
    Run::of(&shop.deploy("v1")).code(0);
    Run::of(&shop.deploy("v2")).code(0);
    shop
}

fn allowed(p: String) -> String {
    p + "drill: { allowed: true }\n"
}

#[test]
fn a_deploy_drill_rolls_back_and_forward_within_budget_and_reports_it() {
    let shop = shop_on_v2(allowed);
    let out = shop.run(&["drill", "shop.yaml", "--report", "gameday.md"]);
    let run = Run::of(&out);
    run.code(0)
        .stderr_has("drill: rollback v2 → v1 (budget 5m)")
        .stderr_has("rollback: down: bin/migrate down catalog_v2")
        .stderr_has("rollback: verify http://127.0.0.1:")
        .stderr_has("drill: forward v1 → v2 (budget 5m)")
        .stderr_has("fetch v2: releases/v2 already there and verified (same sha256); reused")
        .stderr_has("migrate: bin/migrate up catalog_v2: done");
    // The real deploy sequence, back where it started, every migration applied once.
    assert_eq!(shop.health().unwrap(), "version=v2 greeting=hello");
    assert_eq!(shop.current(), "releases/v2");
    assert_eq!(shop.states(), "v1=verified v2=verified");
    assert_eq!(shop.schema(), "catalog_v1 orders_v1 catalog_v2 orders_v2");
    // stdout: a line per leg, then the verdict.
    let lines: Vec<String> = run.stdout().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout());
    assert!(lines[0].starts_with("rollback  v2 → v1  "), "{}", lines[0]);
    assert!(lines[0].ends_with(" of 5m  verified"), "{}", lines[0]);
    assert!(lines[1].starts_with("forward   v1 → v2  "), "{}", lines[1]);
    assert!(
        lines[2].starts_with("drill passed: rolled back to v1 in "),
        "{}",
        lines[2]
    );
    // The game-day report: legs against the budget, the timeline, how to run it again.
    let md = std::fs::read_to_string(shop.env.path("gameday.md")).unwrap();
    for want in [
        "# Game day: deploy drill of `shop (deploy)`: PASSED",
        "- Budget: 5m per leg",
        "| this machine | rollback | `v2` → `v1` | ",
        "| this machine | forward | `v1` → `v2` | ",
        "| 5m | yes |",
        "## What failed\n\nNothing.",
        "| this machine | `rollback: switch current → v1` | ok |",
        "| this machine | `switch current → v2` | ok |",
        "tend drill shop.yaml --yes\ntend history show ",
    ] {
        assert!(md.contains(want), "{want}\n{md}");
    }
    // `tend history --kind drill` answers when it was last rehearsed and how it went.
    let out = shop.run(&["history", "--kind", "drill"]);
    Run::of(&out)
        .code(0)
        .stdout_has("drill     shop (deploy)")
        .stdout_has("ok (exit 0)");
    let out = shop.run(&["history", "--kind", "deploy"]);
    Run::of(&out).code(0).stdout_lacks("drill");
}

#[test]
fn a_drill_as_json_is_the_report_as_data() {
    let shop = shop_on_v2(allowed);
    let out = shop.run(&["drill", "shop.yaml", "--output", "json"]);
    Run::of(&out).code(0);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["verdict"], "passed");
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["budget_ms"], 300_000);
    let legs = doc["legs"].as_array().unwrap();
    assert_eq!(legs.len(), 2);
    assert_eq!(
        (
            legs[0]["leg"].as_str(),
            legs[0]["from"].as_str(),
            legs[0]["to"].as_str()
        ),
        (Some("rollback"), Some("v2"), Some("v1"))
    );
    assert_eq!(legs[1]["leg"], "forward");
    for leg in legs {
        assert_eq!(leg["verified"], true);
        // The playbook's own steps are most of a leg: tend's overhead is what is left.
        let (took, steps) = (
            leg["took_ms"].as_u64().unwrap(),
            leg["steps_ms"].as_u64().unwrap(),
        );
        assert!(steps <= took && steps > 0, "{leg}");
    }
    assert!(doc["timeline"].as_array().unwrap().len() >= 14, "{doc}");
}

#[test]
fn a_drill_needs_the_playbooks_consent_or_yes() {
    let shop = shop_on_v2(|p| p);
    let out = shop.run(&["drill", "shop.yaml"]);
    Run::of(&out)
        .code(64)
        .stderr_has("it runs only with `drill: { allowed: true }` in the playbook or --yes")
        .stderr_has("hint: `tend drill shop.yaml --dry-run` shows the legs, touching nothing");
    assert_eq!(shop.states(), "v1=verified v2=verified");
    Run::of(&shop.run(&["history", "--kind", "drill"]))
        .code(0)
        .stdout_lacks("shop");
    // The dry run needs no consent, and touches nothing.
    let out = shop.run(&["drill", "shop.yaml", "--dry-run"]);
    Run::of(&out).code(0).stdout_is(&format!(
        "drill of {} on this machine, each leg within 5m:\n  \
         0. v2 as it is now\n       \
         drill: v2 before: verify http://127.0.0.1:{port}/health\n  \
         1. rollback v2 → v1\n       \
         rollback: stop: bin/stop\n       \
         rollback: down: bin/migrate down orders_v2\n       \
         rollback: down: bin/migrate down catalog_v2\n       \
         rollback: restore the config files v2 changed\n       \
         rollback: switch current → v1\n       \
         rollback: start: bin/start\n       \
         rollback: verify http://127.0.0.1:{port}/health\n  \
         2. forward v1 → v2\n       \
         fetch v2 (its directory is still there: reused when its build is the same)\n       \
         stop: bin/stop\n       \
         migrate: bin/migrate up catalog_v2\n       \
         migrate: bin/migrate up orders_v2\n       \
         configure shared/app.conf\n       \
         switch current → v2\n       \
         start: bin/start\n       \
         verify http://127.0.0.1:{port}/health\n       \
         prune old releases\n  \
         then v2 is live and verified, as before\n\
         dry run: nothing was touched\n",
        shop.root().display(),
        port = shop.port
    ));
    // --yes is the operator's consent.
    Run::of(&shop.run(&["drill", "shop.yaml", "--yes"])).code(0);
}

#[test]
fn a_rollback_that_does_not_verify_fails_the_drill_with_2_and_it_returns() {
    let shop = shop_on_v2(allowed);
    // v1 has gone bad where it sits: the rollback the on-call would rely on does not work.
    std::fs::write(shop.root().join("releases/v1/BAD"), "").unwrap();
    let out = shop.run(&["drill", "shop.yaml", "--report", "gameday.md"]);
    Run::of(&out)
        .code(2)
        .stderr_has("ROLLBACK NOT VERIFIED")
        .stderr_has("drill: forward v1 → v2")
        .stderr_has(
            "the rollback to v1 is NOT verified (rollback from v2 to v1; the rollback is NOT verified",
        )
        .stderr_has("the drill returned to v2, live and verified (exit 2")
        .stdout_has("rollback  v2 → v1  ")
        .stdout_has("of 5m  NOT verified\n");
    assert_eq!(shop.health().unwrap(), "version=v2 greeting=hello");
    assert_eq!(shop.current(), "releases/v2");
    assert_eq!(shop.states(), "v1=verified v2=verified");
    let md = std::fs::read_to_string(shop.env.path("gameday.md")).unwrap();
    assert!(md.contains("`shop (deploy)`: NOT VERIFIED"), "{md}");
    assert!(
        md.contains("| this machine | rollback | `v2` → `v1` | "),
        "{md}"
    );
    assert!(md.contains("| NO |"), "{md}");
    assert!(
        md.contains("- rollback on this machine: `v2` → `v1`: "),
        "{md}"
    );
}

#[test]
fn a_budget_of_one_second_fails_the_drill_with_the_measured_time() {
    let shop = shop_on_v2(|p| {
        p.replace(
            r#"start: [ "bin/start" ]"#,
            r#"start: [ "bin/start", "sleep 1" ]"#,
        ) + "drill: { allowed: true, rollback_budget: 1s }\n"
    });
    let out = shop.run(&["drill", "shop.yaml"]);
    let run = Run::of(&out);
    run.code(1)
        .stderr_has(", OVER its budget of 1s: verified")
        .stderr_has("over the budget of 1s; v2 is live and verified (exit 1");
    let err = run.stderr();
    let took = err
        .split("drill: rollback v2 → v1 took ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap();
    assert!(
        took.ends_with('s') && took.starts_with("1.") && took.len() == 6,
        "{took}"
    );
    assert!(
        run.stdout().contains(&format!("the rollback took {took}")),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout().contains(" of 1s  verified, OVER BUDGET"),
        "{}",
        run.stdout()
    );
    assert_eq!(shop.health().unwrap(), "version=v2 greeting=hello");
}

#[test]
fn a_migration_without_down_makes_the_drill_refuse_with_the_reason() {
    let shop = shop_on_v2(|p| {
        allowed(p.replace(r#", down: "bin/migrate down orders_{{ version }}" }"#, " }"))
    });
    let out = shop.run(&["drill", "shop.yaml", "--report", "gameday.md"]);
    Run::of(&out).code(1).stderr_has(
        "drill refused: migration 'bin/migrate up orders_v2' of v2 has no `down`: the rollback cannot undo it",
    );
    assert_eq!(shop.current(), "releases/v2");
    assert_eq!(shop.schema(), "catalog_v1 orders_v1 catalog_v2 orders_v2");
    let md = std::fs::read_to_string(shop.env.path("gameday.md")).unwrap();
    assert!(md.contains(": REFUSED"), "{md}");
    assert!(md.contains("No leg ran."), "{md}");
}

#[test]
fn sigint_in_the_rollback_leg_returns_to_the_release_it_started_from() {
    let shop = shop_on_v2(allowed);
    let gate = shop.env.path("gate");
    let child = shop
        .env
        .tend_spawnable()
        .args(["drill", "shop.yaml"])
        .env("GATE_DOWN", &gate)
        .spawn()
        .unwrap();
    let waiting = gate.with_extension("waiting");
    wait_for("the first down to start", Duration::from_secs(20), || {
        waiting.exists()
    });
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    std::fs::write(&gate, "").unwrap();
    let out = child.wait_with_output().unwrap();
    Run::of(&out)
        .code(1)
        .stderr_has("interrupted by a signal during the rollback leg: returning to v2")
        .stderr_has("drill: forward v1 → v2")
        .stderr_has(
            "interrupted during the rollback leg; returned to v2, live and verified (exit 1",
        );
    assert_eq!(shop.health().unwrap(), "version=v2 greeting=hello");
    assert_eq!(shop.states(), "v1=verified v2=verified");
    assert_eq!(shop.schema(), "catalog_v1 orders_v1 catalog_v2 orders_v2");
}

#[test]
fn a_fleet_drill_goes_batch_by_batch_and_reports_per_host() {
    let f = Fleet::new(3, 1, r#"{ batches: [1, "100%"] }"#);
    Run::of(&f.deploy("v1", false, &[])).code(0);
    Run::of(&f.deploy("v2", false, &[])).code(0);
    let out = f
        .shop
        .env
        .tend()
        .args([
            "drill",
            "shop.yaml",
            "--yes",
            "--output",
            "plain",
            "--report",
            "gameday.md",
        ])
        .output()
        .unwrap();
    let run = Run::of(&out);
    run.code(0)
        .stderr_has("batch 1/2: web1")
        .stderr_has("batch 2/2: web2, web3")
        .stdout_has("drill passed: 3 hosts rolled back and forward, each leg verified within 5m");
    let err = run.stderr();
    // The canary was back on v2 before the next batch left it.
    let canary = err
        .find("[web1] info    drill: forward v1 → v2 took")
        .unwrap();
    let batch2 = err.find("batch 2/2").unwrap();
    assert!(canary < batch2, "{err}");
    for h in ["web1", "web2", "web3"] {
        assert!(
            run.stdout().contains(&format!("{h}  rollback  v2 → v1  ")),
            "{}",
            run.stdout()
        );
        assert!(
            run.stdout().contains(&format!("{h}  forward   v1 → v2  ")),
            "{}",
            run.stdout()
        );
    }
    assert_eq!(
        f.picture(),
        "web1 releases/v2 v2 [v1=verified v2=verified]\n\
         web2 releases/v2 v2 [v1=verified v2=verified]\n\
         web3 releases/v2 v2 [v1=verified v2=verified]"
    );
    let md = std::fs::read_to_string(f.shop.env.path("gameday.md")).unwrap();
    assert!(md.contains("| `web3` | forward | `v1` → `v2` | "), "{md}");
}

#[test]
fn a_cleanup_playbook_has_nothing_to_drill() {
    let env = crate::harness::Env::new();
    env.write("c.yaml", "kind: cleanup\ncleanup: { rules: [] }\n");
    Run::of(
        &env.tend()
            .args(["drill", "c.yaml", "--yes"])
            .output()
            .unwrap(),
    )
    .code(64)
    .stderr_has("c.yaml is a cleanup playbook, which has no failure path to rehearse");
}

/// A check playbook whose alerts go by email (to `smtp_port`) and to a webhook.
fn alerting(env: &crate::harness::Env, smtp_port: u16, hook: &str) {
    env.write(
        "health.yaml",
        &format!(
            "kind: check
name: host-health
notify:
  email: {{ to: [oncall@example.com], from: tend@example.com, on: [critical], smtp: {{ host: 127.0.0.1, port: {smtp_port}, tls: none }} }}
  webhook: {{ url: \"{hook}\", on: [critical] }}
checks:
  - memory: {{ warn: 99, crit: 100 }}
  - disk: {{ mount: /, warn: 99, crit: 100 }}
drill: {{ allowed: true }}
"
        ),
    );
}

#[test]
fn an_alert_drill_reports_the_smtp_server_down_and_the_webhook_delivered() {
    let env = crate::harness::Env::new();
    let hook = crate::harness::http::HttpServer::start(200, "ok");
    // Nothing listens there: the mail server is down.
    let down = crate::harness::free_port();
    alerting(&env, down, &hook.url("/services/T0/B0/XXXX"));
    let out = env
        .tend()
        .args(["drill", "health.yaml", "--report", "gameday.md"])
        .output()
        .unwrap();
    let run = Run::of(&out);
    run.code(1)
        .stderr_has("drill: alert test alert → email to oncall@example.com via 127.0.0.1:")
        .stderr_has(": NOT delivered")
        .stderr_has("drill: alert test alert → webhook to http://127.0.0.1:")
        .stderr_has(": delivered")
        .stderr_has("1 of 2 deliveries failed: email to oncall@example.com")
        .stdout_has("NOT delivered\n")
        .stdout_has("  delivered\n")
        .stderr_lacks("XXXX");
    let reqs = hook.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let body: serde_json::Value =
        serde_json::from_str(reqs[0].split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with("[DRILL] [tend] "), "{text}");
    assert!(text.contains("test alert, no action needed"), "{text}");
    let md = std::fs::read_to_string(env.path("gameday.md")).unwrap();
    assert!(
        md.contains("# Game day: check drill of `host-health (check)`: FAILED"),
        "{md}"
    );
    assert!(
        md.contains("| alert | `test alert` → `email to oncall@example.com via 127.0.0.1:"),
        "{md}"
    );
    // A drill leaves the alert state alone: the next real run alerts as if it never happened.
    assert!(!env.state().join("check").exists());
}

#[test]
fn an_alert_drill_trips_a_check_and_its_real_alert_reaches_the_inbox() {
    let env = crate::harness::Env::new();
    let smtp = crate::harness::smtp::SmtpServer::start(env.dir.path());
    let hook = crate::harness::http::HttpServer::start(200, "ok");
    alerting(&env, smtp.port, &hook.url("/hook"));
    let out = env
        .tend()
        .args(["drill", "health.yaml", "--trip", "disk"])
        .output()
        .unwrap();
    Run::of(&out)
        .code(0)
        .stderr_has("drill: tripped disk /: ")
        .stderr_has(
            "[DRILL] critical at any value (its own: critical above 100%, warning above 99%))",
        )
        .stdout_has("drill passed: every channel accepted the drill's alerts");
    let msgs = smtp.wait_for_messages(2);
    let tripped = crate::harness::smtp::readable(&msgs[1]);
    assert!(tripped.contains("Subject: [DRILL] [tend] "), "{tripped}");
    assert!(tripped.contains(": CRITICAL disk / "), "{tripped}");
    assert!(
        tripped.contains("tripped on purpose by `tend drill --trip`"),
        "{tripped}"
    );
    assert!(tripped.contains("All checks on "), "{tripped}");
    assert_eq!(hook.requests.lock().unwrap().len(), 2);
    // A check --trip cannot find is named with the ones there are.
    Run::of(
        &env.tend()
            .args(["drill", "health.yaml", "--trip", "cpu"])
            .output()
            .unwrap(),
    )
    .code(64)
    .stderr_has("--trip cpu: no check is named so; the checks are: memory, disk /");
}

#[test]
fn a_failover_drill_fails_over_and_back_and_reports_the_four_times() {
    let pair = crate::harness::failover::drilled_pair();
    let dns1 = pair.dns1.ip.clone();
    let out = pair
        .env
        .tend()
        .args(["drill", "dns.yaml", "--report", "gameday.md"])
        .output()
        .unwrap();
    let run = Run::of(&out);
    run.code(0)
        .stderr_has("drill: failover dns1 → dns2 (budget 5m)")
        .stderr_has("drill: fence dns1")
        .stderr_has("dns1 failed 3 of 3 rounds")
        .stderr_has("promote dns2")
        .stderr_has("verify dns2")
        .stderr_has("drill: failback dns2 → dns1")
        .stderr_has("drill: restore dns1")
        .stderr_has("fence dns2")
        .stderr_has("drill: restore dns2")
        .stderr_has("failed over to dns2 in ")
        // The drill's own failover alerts no one: it is not an outage.
        .stderr_lacks("alert");
    // Back where it started: dns1 first, both answering.
    assert_eq!(pair.first_nameserver(), dns1);
    assert!(pair.resolve().is_some());
    assert!(crate::harness::dns::query(&pair.dns2.address()).is_some());
    // Fenced by the drill, then by the sequence as on the bad day; dns2 by the failback.
    assert_eq!(pair.fence_log(), "fenced dns1\nfenced dns1\nfenced dns2\n");
    let stdout = run.stdout();
    for what in [
        "dns1 taken down",
        "dns1 judged down",
        "dns1 fenced",
        "dns2 promoted",
        "dns2 verified",
    ] {
        assert!(stdout.contains(what), "{what}\n{stdout}");
    }
    assert!(stdout.contains("clients: "), "{stdout}");
    let md = std::fs::read_to_string(pair.env.path("gameday.md")).unwrap();
    assert!(md.contains("## Milestones"), "{md}");
    assert!(
        md.contains("| this machine | failover | `dns1` → `dns2` |"),
        "{md}"
    );
    assert!(
        md.contains("| this machine | failback | `dns2` → `dns1` |"),
        "{md}"
    );
    assert!(md.contains("lookups during the drill"), "{md}");
    // A drill is not a failover: no hold-down keeps a real one from happening next.
    let out = pair.failover(&["--status"]);
    Run::of(&out).code(0).stdout_lacks("last failover");
}

#[test]
fn a_failover_drill_needs_a_restore_and_refuses_an_unhealthy_pair() {
    let pair = crate::harness::failover::pair();
    pair.edit(|p| p + "drill: { allowed: true }\n");
    Run::of(
        &pair
            .env
            .tend()
            .args(["drill", "dns.yaml"])
            .output()
            .unwrap(),
    )
    .code(64)
    .stderr_has("a failover drill needs `drill.restore`");
    let mut pair = crate::harness::failover::drilled_pair();
    pair.dns2.kill();
    Run::of(
        &pair
            .env
            .tend()
            .args(["drill", "dns.yaml"])
            .output()
            .unwrap(),
    )
    .code(1)
    .stderr_has("drill refused: no standby answers (dns2 ");
    assert_eq!(pair.first_nameserver(), pair.dns1.ip);
}

#[test]
fn plan_shows_the_drill_legs_and_validate_refuses_a_bad_drill_key() {
    let shop = shop_on_v2(allowed);
    let sha = format!("sha={}", "0".repeat(64));
    let out = shop.run(&["plan", "shop.yaml", "--var", "version=v2", "--var", &sha]);
    Run::of(&out)
        .code(0)
        .stdout_has("drill of ")
        .stdout_has(" on this machine, each leg within 5m:\n  0. v2 as it is now\n")
        .stdout_has("  1. rollback v2 → v1\n")
        .stdout_has("  2. forward v1 → v2\n");
    for (drill, message) in [
        (
            "drill: { rollback_budget: 0s }",
            "a budget of 0 fails every drill\n  --> bad.yaml:23:27",
        ),
        (
            "drill: { method: fence }",
            "`method` is for a failover drill\n  --> bad.yaml:23:",
        ),
        ("drill: { allowed: yes please }", "bad.yaml:23:"),
    ] {
        shop.env.write(
            "bad.yaml",
            &(std::fs::read_to_string(shop.env.path("shop.yaml"))
                .unwrap()
                .replace("drill: { allowed: true }", drill)),
        );
        let out = shop.run(&["validate", "bad.yaml", "--var", &sha]);
        Run::of(&out).code(64).stderr_has(message);
    }
    let pair = crate::harness::failover::pair();
    pair.edit(|p| p + "drill: { allowed: true }\n");
    Run::of(
        &pair
            .env
            .tend()
            .args(["validate", "dns.yaml"])
            .output()
            .unwrap(),
    )
    .code(64)
    .stderr_has("a failover drill needs `drill.restore`");
}

#[test]
fn sigint_in_a_failover_drill_returns_to_the_original_active_with_exit_1() {
    let pair = crate::harness::failover::drilled_pair();
    let child = pair
        .env
        .tend_spawnable()
        .args(["drill", "dns.yaml"])
        .spawn()
        .unwrap();
    wait_for(
        "the drill to take dns1 down",
        Duration::from_secs(20),
        || pair.fence_log().contains("fenced dns1"),
    );
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run::of(&out)
        .code(1)
        .stderr_has("interrupted by a signal during the failover leg: returning to dns1")
        .stderr_has("drill: restore dns1")
        .stderr_has("interrupted during the failover leg; returned to dns1, verified (exit 1");
    assert_eq!(pair.first_nameserver(), pair.dns1.ip);
    assert!(crate::harness::dns::query(&pair.dns1.address()).is_some());
}

#[test]
fn a_resolve_a_channel_refuses_leaves_the_drill_alert_open_and_fails_the_drill() {
    let env = crate::harness::Env::new();
    // Takes the trigger, refuses the resolve.
    let pd = crate::harness::http::HttpServer::answering(vec![202, 500], "no");
    env.write(
        "health.yaml",
        &format!(
            "kind: check
name: host-health
notify:
  webhook: {{ url: \"{}\", format: pagerduty, routing_key: R0UT1NGKEY0000000000000000000000 }}
checks:
  - memory: {{ warn: 99, crit: 100 }}
drill: {{ allowed: true }}
",
            pd.url("/v2/enqueue")
        ),
    );
    let out = env.tend().args(["drill", "health.yaml"]).output().unwrap();
    Run::of(&out)
        .code(1)
        .stderr_has(": delivered")
        .stderr_has("the [DRILL] alert stays open at webhook to http://127.0.0.1:")
        .stderr_has("its resolve was not taken: webhook: ")
        .stderr_has("answered HTTP 500");
    assert_eq!(pd.requests.lock().unwrap().len(), 2);
}

#[test]
fn a_drill_refuses_before_it_starts_what_it_would_find_out_at_its_end() {
    let shop = shop_on_v2(allowed);
    // A report that cannot be written there: found before anything is touched.
    std::fs::create_dir(shop.env.path("reports")).unwrap();
    std::os::unix::fs::symlink("shop.yaml", shop.env.path("link.md")).unwrap();
    let fifo = shop.env.path("fifo.md");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (report, why) in [
        (
            "reports",
            "--report reports: that is a directory; nothing was done",
        ),
        ("nowhere/r.md", "--report nowhere/r.md: nowhere: "),
        ("link.md", "--report link.md: that is not a regular file"),
        ("fifo.md", "--report fifo.md: that is not a regular file"),
        ("shop.yaml", "--report shop.yaml: that is the playbook"),
    ] {
        Run::of(&shop.run(&["drill", "shop.yaml", "--report", report]))
            .code(64)
            .stderr_has(why);
    }
    // A live release that is down since its deploy: an incident, not a drill.
    let pid = shop.pid().unwrap();
    std::process::Command::new("kill")
        .arg(&pid)
        .status()
        .unwrap();
    wait_for("the app to stop", Duration::from_secs(10), || {
        shop.health().is_err()
    });
    Run::of(&shop.run(&["drill", "shop.yaml"]))
        .code(1)
        .stderr_has("drill refused: v2 does not pass its verify now (")
        .stderr_has("that is an incident to handle, not a drill to run");
    assert_eq!(shop.current(), "releases/v2");
    assert_eq!(shop.schema(), "catalog_v1 orders_v1 catalog_v2 orders_v2");
    assert!(shop.health().is_err(), "the drill started nothing");
    Run::of(&shop.deploy("v2")).code(0);
    // Whatever a --var holds, the report's lines stay the report's.
    let hostile = "note=x\n```\n# Injected heading\n| verdict | PASSED |";
    Run::of(&shop.run(&["drill", "shop.yaml", "--var", hostile, "--report", "r.md"])).code(0);
    let md = std::fs::read_to_string(shop.env.path("r.md")).unwrap();
    assert!(!md.contains("\n# Injected"), "{md}");
    assert!(!md.contains("\n| verdict"), "{md}");
    assert!(
        md.contains("--var 'note=x\\n```\\n# Injected heading"),
        "{md}"
    );
    Run::of(&shop.run(&["drill", "shop.yaml", "--trip", "disk"]))
        .code(64)
        .stderr_has("--trip is for a check playbook's drill");
    // The release the rollback would go to has gone: found before anything is stopped.
    let v1 = shop.root().join("releases/v1");
    std::fs::rename(&v1, shop.env.path("v1-elsewhere")).unwrap();
    Run::of(&shop.run(&["drill", "shop.yaml"]))
        .code(1)
        .stderr_has("drill refused: releases/v1, the rollback's target, is not there");
    assert_eq!(shop.health().unwrap(), "version=v2 greeting=hello");
}

#[test]
fn a_failover_drill_within_the_hold_down_of_a_real_failover_is_refused() {
    let pair = crate::harness::failover::drilled_pair();
    pair.dns1.signal("STOP");
    Run::of(&pair.failover(&[])).code(0);
    assert_eq!(pair.first_nameserver(), pair.dns2.ip);
    pair.dns1.signal("CONT");
    // Fenced by the failover, resumed by hand: both answer, dns2 active, the hold-down running.
    wait_for("dns1 to answer", Duration::from_secs(10), || {
        crate::harness::dns::query(&pair.dns1.address()).is_some()
    });
    Run::of(&pair.env.tend().args(["drill", "dns.yaml"]).output().unwrap())
        .code(1)
        .stderr_has("drill refused: within the hold-down of the last failover, the drill's would be held down and dns2 left down");
    assert_eq!(pair.first_nameserver(), pair.dns2.ip);
    assert!(crate::harness::dns::query(&pair.dns2.address()).is_some());
}
