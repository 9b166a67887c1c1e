//! `tend deploy`, `rollback`, `releases` and `plan` on a real app: a Python HTTP server that
//! reports its version, deployed into a temp dir, asserted by its HTTP answer, the `current`
//! link, the host journal and the exit code.

use std::process::Stdio;
use std::time::Duration;

use crate::harness::deploy::Shop;
use crate::harness::run::Run;
use crate::harness::{stderr, stdout, wait_for};

/// v1 deployed, serving and verified: where most scenarios start.
fn shop_on_v1() -> Shop {
    let shop = Shop::new();
    let out = shop.deploy("v1");
    Run::of(&out).code(0);
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
    shop
}

#[test]
fn v1_then_v2_is_live_verified_and_recorded() {
    let shop = shop_on_v1();
    let out = shop.deploy("v2");
    let err = stderr(&out);
    Run::of(&out).code(0);
    assert_eq!(shop.health().unwrap(), "version=v2 greeting=hello");
    assert_eq!(shop.current(), "releases/v2");
    assert_eq!(shop.states(), "v1=verified v2=verified");
    assert_eq!(shop.schema(), "catalog_v1 orders_v1 catalog_v2 orders_v2");
    // The plain stream names every step in order, and says where a rollback would go.
    for step in [
        "rollback target if anything fails: v1",
        "fetch v2",
        "stop: bin/stop",
        "migrate: bin/migrate up catalog_v2",
        "configure shared/app.conf",
        "switch current → v2",
        "start: bin/start",
        "verify http://127.0.0.1:",
        "deployed v2: live and verified",
    ] {
        assert!(err.contains(step), "missing {step:?} in:\n{err}");
    }
    let conf = shop.root().join("shared/app.conf");
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        format!("port={}\ngreeting=hello\nrelease=v2\n", shop.port)
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&conf).unwrap().permissions().mode() & 0o7777,
        0o640
    );
    let rec = &shop.journal()["releases"][1];
    assert!(rec["by"].as_str().unwrap().contains('@'), "{rec}");
    assert_eq!(rec["playbook_sha256"].as_str().unwrap().len(), 64);
    assert!(rec["verified_at"].is_string());

    let out = shop
        .env
        .tend()
        .args(["releases", "shop.yaml"])
        .output()
        .unwrap();
    let table = stdout(&out);
    assert!(table.contains("current → v2"), "{table}");
    let v2 = table.lines().find(|l| l.starts_with("v2")).unwrap();
    assert!(v2.contains("verified") && v2.contains("current"), "{table}");
    let v1 = table.lines().find(|l| l.starts_with("v1")).unwrap();
    assert!(v1.contains("rollback target"), "{table}");

    let out = shop
        .env
        .tend()
        .args(["--output", "json", "releases", "shop.yaml"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["current"], "v2");
    assert_eq!(v["last_verified"], "v2");
    assert_eq!(v["releases"].as_array().unwrap().len(), 2);
}

#[test]
fn a_checksum_mismatch_stops_nothing() {
    let shop = shop_on_v1();
    let pid = shop.pid();
    shop.artifact("v2", false);
    let out = shop
        .env
        .tend()
        .args(["deploy", "shop.yaml", "--var", "version=v2", "--var"])
        .arg(format!("sha={}", "0".repeat(64)))
        .output()
        .unwrap();
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(
        err.contains("checksum mismatch") && err.contains("nothing was stopped"),
        "{err}"
    );
    assert_eq!(shop.pid(), pid, "the app was not restarted");
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
    assert_eq!(shop.current(), "releases/v1");
    let left: Vec<_> = std::fs::read_dir(shop.root().join("releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["v1"], "no v2 and no partial directory");
    assert_eq!(shop.states(), "v1=verified v2=failed");
}

#[test]
fn a_bad_build_is_rolled_back_to_v1_serving_and_verified() {
    // The runbook's outage: a QA build reached production.
    let shop = shop_on_v1();
    let out = shop.deploy_with("v2", true, &[]);
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(err.contains("rolling back to v1"), "{err}");
    assert!(
        err.contains("rolled back to v1, which is running and verified"),
        "{err}"
    );
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
    assert_eq!(shop.current(), "releases/v1");
    assert_eq!(
        shop.schema(),
        "catalog_v1 orders_v1",
        "both v2 migrations reverted"
    );
    let conf = std::fs::read_to_string(shop.root().join("shared/app.conf")).unwrap();
    assert!(conf.contains("release=v1"), "config restored: {conf}");
    assert_eq!(shop.states(), "v1=verified v2=failed");
    let v2 = &shop.journal()["releases"][1];
    assert!(v2["message"].as_str().unwrap().contains("verify"), "{v2}");
}

#[test]
fn a_failed_stop_rolls_back_and_keeps_v1_serving() {
    let shop = shop_on_v1();
    let out = shop.deploy_with("v2", false, &[("FAIL_STOP", "v1")]);
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(
        err.contains("stop: bin/stop") && err.contains("exit status 1"),
        "{err}"
    );
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
    assert_eq!(shop.current(), "releases/v1");
    assert_eq!(shop.schema(), "catalog_v1 orders_v1", "no migration ran");
    assert_eq!(shop.states(), "v1=verified v2=failed");
}

#[test]
fn a_failed_migration_runs_the_downs_of_those_that_ran() {
    let shop = shop_on_v1();
    let out = shop.deploy_with("v2", false, &[("FAIL_MIGRATE", "orders_v2")]);
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(
        err.contains("syntax error at line 1"),
        "the migration's own output is shown: {err}"
    );
    assert!(
        err.contains("rollback: down: bin/migrate down catalog_v2"),
        "{err}"
    );
    assert!(
        !err.contains("down orders_v2"),
        "the failed migration's down does not run: {err}"
    );
    assert_eq!(shop.schema(), "catalog_v1 orders_v1");
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
    assert_eq!(shop.current(), "releases/v1");
}

#[test]
fn a_template_error_is_caught_before_anything_runs() {
    let shop = shop_on_v1();
    let pid = shop.pid();
    shop.env.write(
        "app.conf.j2",
        "port={{ port }}\nworkers={{ worker_count }}\n",
    );
    let out = shop.deploy("v2");
    let err = stderr(&out);
    Run::of(&out).code(64);
    assert!(
        err.contains("worker_count") && err.contains("app.conf.j2"),
        "{err}"
    );
    assert!(err.contains("shop.yaml:"), "points at the playbook: {err}");
    assert_eq!(shop.pid(), pid);
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
    assert_eq!(shop.states(), "v1=verified");
}

#[test]
fn a_journal_that_cannot_be_written_is_said_not_dropped() {
    // A migration that puts a directory where the journal goes, then fails: the rollback's
    // writes of the crash-recovery record fail, and each is reported.
    let shop = Shop::with_playbook(|p| {
        p.replace(
            "  migrate:\n",
            "  migrate:\n    - { run: \"rm -f ../../.tend/releases.json && mkdir ../../.tend/releases.json && false\", down: \"true\" }\n",
        )
    });
    let out = shop.deploy("v1");
    let journal = shop.root().join(".tend/releases.json");
    Run::of(&out).code(2).stderr_has(&format!(
        "cannot update {}: Is a directory",
        journal.display()
    ));
    // And with the journal writable, a verified deploy that cannot record it says so.
    let shop = Shop::with_playbook(|p| {
        p.replace(
            "  start: [ \"bin/start\" ]",
            "  start: [ \"bin/start\", \"rm -f ../../.tend/releases.json && mkdir ../../.tend/releases.json\" ]",
        )
    });
    let out = shop.deploy("v1");
    Run::of(&out).code(0).stderr_has(&format!(
        "v1 is live and verified, but {} could not be updated",
        shop.root().join(".tend/releases.json").display()
    ));
}

#[test]
fn a_config_that_cannot_be_written_rolls_back() {
    let shop = Shop::with_playbook(|p| {
        p.replace(
            "  start:",
            "    - { template: app.conf.j2, dest: shared/app.conf/extra.conf }\n  start:",
        )
    });
    // The second config's directory is a file: configure fails after the first was written.
    std::fs::create_dir_all(shop.root().join("shared")).unwrap();
    let out = shop.deploy("v1");
    // The first deploy: there is nothing to go back to.
    Run::of(&out).code(2);
    let err = stderr(&out);
    assert!(
        err.contains("there is no verified release to go back to"),
        "{err}"
    );
    assert!(err.contains("ROLLBACK NOT VERIFIED"), "{err}");
    assert!(
        !shop.root().join("shared/app.conf").exists(),
        "the config it wrote was removed again"
    );
}

#[test]
fn a_failed_start_rolls_back() {
    let shop = shop_on_v1();
    let out = shop.deploy_with("v2", false, &[("FAIL_START", "v2")]);
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(err.contains("start: refusing"), "{err}");
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
    assert_eq!(shop.current(), "releases/v1");
    assert_eq!(shop.schema(), "catalog_v1 orders_v1");
}

#[test]
fn a_rollback_that_does_not_verify_exits_2_and_says_what_state_each_part_is_in() {
    let shop = shop_on_v1();
    // v2 is broken, and so is v1 once restarted (its dependency broke meanwhile).
    let out = shop.deploy_with("v2", false, &[("BAD_VERSIONS", "v1 v2")]);
    let err = stderr(&out);
    Run::of(&out).code(2);
    assert!(
        err.contains("ROLLBACK NOT VERIFIED: v1 does not pass verify"),
        "{err}"
    );
    assert!(err.contains("app: v1 started but NOT healthy"), "{err}");
    assert!(
        err.contains("migrations: reverted: bin/migrate up orders_v2, bin/migrate up catalog_v2"),
        "{err}"
    );
    assert!(err.contains("config: 1 config file restored"), "{err}");
    assert!(err.contains("current → releases/v1"), "{err}");
    assert!(shop.health().is_err());
    assert_eq!(shop.states(), "v1=verified v2=failed");
}

#[test]
fn an_irreversible_migration_halts_the_rollback_with_exit_2() {
    let shop = Shop::with_playbook(|p| {
        p.replace(
            "    - { run: \"bin/migrate up orders_{{ version }}\", down: \"bin/migrate down orders_{{ version }}\" }\n",
            "    - \"bin/migrate up drop_legacy_{{ version }}\"\n",
        )
    });
    let out = shop.deploy("v1");
    Run::of(&out).code(0);
    let sha = shop.artifact("v2", true);
    let plan = shop
        .env
        .tend()
        .args(["plan", "shop.yaml", "--var", "version=v2", "--var"])
        .arg(format!("sha={sha}"))
        .output()
        .unwrap();
    let text = stdout(&plan);
    assert!(text.contains("NO DOWN: irreversible"), "{text}");
    assert!(text.contains("IMPOSSIBLE, no `down`"), "{text}");
    assert!(
        text.contains("warning: migration 'bin/migrate up drop_legacy_v2' has no `down`"),
        "{text}"
    );

    let out = shop.deploy_with("v2", true, &[]);
    let err = stderr(&out);
    Run::of(&out).code(2);
    assert!(
        err.contains(
            "migration 'bin/migrate up drop_legacy_v2' has no `down` and is not backward_compatible"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "migrations: NOT reverted: bin/migrate up drop_legacy_v2, bin/migrate up catalog_v2"
        ),
        "{err}"
    );
    assert!(err.contains("app: stopped"), "{err}");
    assert!(err.contains("current → releases/v2"), "{err}");
    assert!(
        shop.health().is_err(),
        "the app stays stopped rather than run v1 on v2's schema"
    );
    // The journal keeps what is still applied, for whoever finishes the job.
    let v2 = &shop.journal()["releases"][1];
    let left: Vec<&str> = v2["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["run"].as_str().unwrap())
        .collect();
    assert_eq!(
        left,
        [
            "bin/migrate up catalog_{{ version }}",
            "bin/migrate up drop_legacy_{{ version }}"
        ]
    );
}

#[test]
fn sigint_during_migrate_rolls_back() {
    let shop = shop_on_v1();
    let gate = shop.env.path("gate");
    let sha = shop.artifact("v2", false);
    let child = shop
        .env
        .tend_spawnable()
        .args(["deploy", "shop.yaml", "--var", "version=v2", "--var"])
        .arg(format!("sha={sha}"))
        .env("GATE_MIGRATE", &gate)
        .spawn()
        .unwrap();
    let waiting = gate.with_extension("waiting");
    wait_for("the migration to start", Duration::from_secs(20), || {
        waiting.exists()
    });
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(err.contains("interrupted"), "{err}");
    // Cut short, the migration may have done part of its work: its `down` runs.
    assert!(
        err.contains("rollback: down: bin/migrate down catalog_v2"),
        "{err}"
    );
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
    assert_eq!(shop.current(), "releases/v1");
    assert_eq!(shop.schema(), "catalog_v1 orders_v1");
    assert_eq!(shop.states(), "v1=verified v2=failed");
}

#[test]
fn a_second_deploy_of_the_same_root_exits_75_naming_the_holder() {
    let shop = shop_on_v1();
    let gate = shop.env.path("gate");
    let sha = shop.artifact("v2", false);
    let first = std::process::Command::new(assert_cmd::cargo::cargo_bin("tend"))
        .args(["deploy", "shop.yaml", "--var", "version=v2", "--var"])
        .arg(format!("sha={sha}"))
        .env("TEND_STATE_DIR", shop.env.state())
        .env("GATE_MIGRATE", &gate)
        .current_dir(shop.env.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let waiting = gate.with_extension("waiting");
    wait_for(
        "the first deploy to reach migrate",
        Duration::from_secs(20),
        || waiting.exists(),
    );
    let out = shop.deploy("v3");
    let err = stderr(&out);
    Run::of(&out).code(75);
    assert!(
        err.contains("another run holds the lock") && err.contains(&format!("pid {}", first.id())),
        "{err}"
    );
    // --wait-lock waits for the holder to finish, then deploys.
    let sha3 = shop.artifact("v3", false);
    let mut waiter = shop.env.tend();
    waiter
        .args([
            "deploy",
            "shop.yaml",
            "--wait-lock",
            "60s",
            "--var",
            "version=v3",
        ])
        .arg("--var")
        .arg(format!("sha={sha3}"))
        .timeout(Duration::from_secs(90));
    let waiter = std::thread::spawn(move || waiter.output().unwrap());
    wait_for("the waiter to start", Duration::from_secs(10), || {
        std::process::Command::new("pgrep")
            .args(["-f", "wait-lock 60s"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    std::fs::write(&gate, "").unwrap();
    let done = first.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(0));
    let waited = waiter.join().unwrap();
    Run::of(&waited).code(0);
    assert_eq!(shop.health().unwrap(), "version=v3 greeting=hello");
}

#[test]
fn rollback_goes_to_the_previous_verified_release_and_to_a_given_one() {
    let shop = shop_on_v1();
    for v in ["v2", "v3"] {
        let out = shop.deploy(v);
        Run::of(&out).code(0);
    }
    let out = shop
        .env
        .tend()
        .args(["rollback", "shop.yaml"])
        .output()
        .unwrap();
    Run::of(&out).code(0);
    assert_eq!(shop.health().unwrap(), "version=v2 greeting=hello");
    assert_eq!(shop.current(), "releases/v2");
    assert_eq!(shop.schema(), "catalog_v1 orders_v1 catalog_v2 orders_v2");
    assert_eq!(shop.states(), "v1=verified v2=verified v3=rolled-back");

    // Forward is a deploy, not a rollback.
    let out = shop
        .env
        .tend()
        .args(["rollback", "shop.yaml", "--to", "v3"])
        .output()
        .unwrap();
    Run::of(&out).code(64);
    assert!(
        stderr(&out).contains("cannot roll back to v3"),
        "{}",
        stderr(&out)
    );

    let out = shop
        .env
        .tend()
        .args(["rollback", "shop.yaml", "--to", "v1"])
        .output()
        .unwrap();
    Run::of(&out).code(0);
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
    assert_eq!(shop.current(), "releases/v1");
    assert_eq!(shop.schema(), "catalog_v1 orders_v1");
    let conf = std::fs::read_to_string(shop.root().join("shared/app.conf")).unwrap();
    assert!(conf.contains("release=v1"), "{conf}");
    assert_eq!(shop.states(), "v1=verified v2=rolled-back v3=rolled-back");

    // A deploy after a rollback goes back to v1 if it fails, not to a rolled-back release.
    let out = shop.deploy_with("v4", true, &[]);
    Run::of(&out).code(1);
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
}

#[test]
fn keep_releases_prunes_old_releases_but_failed_ones_do_not_count() {
    let shop = shop_on_v1();
    for v in ["v2", "v3"] {
        Run::of(&shop.deploy(v)).code(0);
    }
    Run::of(&shop.deploy_with("v4", true, &[])).code(1);
    Run::of(&shop.deploy("v5")).code(0);
    let mut dirs: Vec<_> = std::fs::read_dir(shop.root().join("releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    dirs.sort();
    // keep_releases: 3 counts v5, v3, v2; the newest failed release stays to look at.
    assert_eq!(dirs, ["v2", "v3", "v4", "v5"]);
    let j = shop.journal();
    let v1 = &j["releases"][0];
    assert_eq!(v1["release"], "v1");
    assert_eq!(v1["pruned"], true);
    assert_eq!(shop.health().unwrap(), "version=v5 greeting=hello");
}

#[test]
fn a_verified_release_is_reused_not_fetched_again() {
    let shop = shop_on_v1();
    Run::of(&shop.deploy("v2")).code(0);
    let out = shop
        .env
        .tend()
        .args(["rollback", "shop.yaml"])
        .output()
        .unwrap();
    Run::of(&out).code(0);
    // v1 is verified and its directory is there: redeploying it reads no artifact.
    let sha = shop.artifact("v1", false);
    std::fs::remove_file(shop.env.path("artifacts/shop-v1.tar.gz")).unwrap();
    let out = shop
        .env
        .tend()
        .args(["deploy", "shop.yaml", "--var", "version=v1", "--var"])
        .arg(format!("sha={sha}"))
        .output()
        .unwrap();
    let err = stderr(&out);
    Run::of(&out).code(0);
    assert!(
        err.contains("already there and verified (same sha256); reused"),
        "{err}"
    );
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
}

#[test]
fn dry_run_and_plan_show_the_steps_and_the_rollback_and_touch_nothing() {
    let shop = shop_on_v1();
    let before = shop.journal();
    shop.artifact("v2", false);
    let out = shop
        .env
        .tend()
        .args([
            "deploy",
            "--dry-run",
            "shop.yaml",
            "--var",
            "version=v2",
            "--var",
            "sha=x",
        ])
        .output()
        .unwrap();
    // A bad sha256 is refused.
    Run::of(&out).code(64);
    let sha = shop.artifact("v2", false);
    let out = shop
        .env
        .tend()
        .args([
            "deploy",
            "--dry-run",
            "shop.yaml",
            "--var",
            "version=v2",
            "--var",
        ])
        .arg(format!("sha={sha}"))
        .output()
        .unwrap();
    let text = stdout(&out);
    Run::of(&out).code(0);
    let expected = [
        "current: v1 (verified)",
        "1. fetch v2:",
        "2. stop: bin/stop",
        "3. migrate: bin/migrate up catalog_v2 (down: bin/migrate down catalog_v2)",
        "5. configure",
        "6. switch current → v2",
        "7. start: bin/start",
        "8. verify http://127.0.0.1:",
        "(30 retries every 100ms)",
        "roll back to v1:",
        "rollback: down: bin/migrate down orders_v2",
        "rollback: switch current → v1",
        "rollback: verify http://127.0.0.1:",
        "dry run: nothing was touched",
    ];
    for e in expected {
        assert!(text.contains(e), "missing {e:?} in:\n{text}");
    }
    assert_eq!(shop.current(), "releases/v1");
    assert!(!shop.root().join("releases/v2").exists());
    assert_eq!(shop.journal(), before);
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
}

#[test]
fn values_with_shell_metacharacters_stay_one_argument() {
    let shop = Shop::with_playbook(|p| {
        p.replace(
            "  start: [ \"bin/start\" ]",
            "  start: [ \"bin/start\", \"printf '%s\\\\n' {{ greeting }} > greeting.txt\" ]",
        )
    });
    let sha = shop.artifact("v1", false);
    let out = shop
        .env
        .tend()
        .args(["deploy", "shop.yaml", "--var", "version=v1", "--var"])
        .arg(format!("sha={sha}"))
        .arg("--var")
        .arg("greeting=hi; touch pwned")
        .output()
        .unwrap();
    Run::of(&out).code(0);
    let written = std::fs::read_to_string(shop.root().join("releases/v1/greeting.txt")).unwrap();
    assert_eq!(written, "hi; touch pwned\n");
    assert!(!shop.root().join("releases/v1/pwned").exists());
}

#[test]
fn hosts_and_bad_values_are_clear_errors() {
    // A template one host cannot render stops the fleet before any host is contacted.
    let shop = Shop::with_playbook(|p| {
        p.replace(
            "kind: deploy\n",
            "kind: deploy\nhosts: [ { name: web1, address: 127.0.0.1, port: 1 } ]\n",
        )
        .replace("srv/shop", "srv/{{ host.vars.zone }}/shop")
    });
    let out = shop.deploy("v1");
    Run::of(&out).code(64);
    let err = stderr(&out);
    assert!(
        err.contains("undefined") && err.contains("(on host web1)") && err.contains("shop.yaml:"),
        "{err}"
    );

    let shop = Shop::with_playbook(|p| {
        p.replace(
            "release: \"{{ version }}\"",
            "release: \"../{{ version }}\"",
        )
    });
    let out = shop.deploy("v1");
    Run::of(&out).code(64);
    assert!(
        stderr(&out).contains("cannot be a directory name"),
        "{}",
        stderr(&out)
    );

    let shop = Shop::with_playbook(|p| p.replace("mode: \"0640\"", "mode: \"0986\""));
    let out = shop.deploy("v1");
    Run::of(&out).code(64);
    let err = stderr(&out);
    assert!(
        err.contains("invalid file mode '0986'") && err.contains("shop.yaml:"),
        "{err}"
    );

    let shop = Shop::with_playbook(|p| {
        p.replace(
            "    sha256: \"{{ sha }}\"",
            "    sha256: \"{{ sha }}\"\n    on: hosts",
        )
    });
    let out = shop.deploy("v1");
    Run::of(&out).code(64);
    assert!(
        stderr(&out).contains("`on: hosts` downloads a `url:` on each host"),
        "{}",
        stderr(&out)
    );

    let shop = Shop::with_playbook(|p| p.replace("  stop:", "  stopp:"));
    let out = shop.deploy("v1");
    Run::of(&out).code(64);
    assert!(
        stderr(&out).contains("did you mean 'stop'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_archive_entry_that_escapes_the_release_is_refused() {
    let shop = Shop::new();
    let path = shop.env.path("artifacts/shop-v1.tar.gz");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // Written by hand: the tar crate's builder refuses such a name.
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..13].copy_from_slice(b"../escaped.sh");
    header.set_size(3);
    header.set_mode(0o644);
    header.set_cksum();
    let mut raw = header.as_bytes().to_vec();
    raw.extend_from_slice(b"hi\n");
    raw.resize(512 * 2, 0);
    raw.extend_from_slice(&[0; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let sha = crate::harness::deploy::sha256(&path);
    let out = shop
        .env
        .tend()
        .args(["deploy", "shop.yaml", "--var", "version=v1", "--var"])
        .arg(format!("sha={sha}"))
        .output()
        .unwrap();
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(
        err.contains("'../escaped.sh' would land outside the release directory"),
        "{err}"
    );
    assert!(!shop.root().join("releases/escaped.sh").exists());
    assert!(!shop.root().join("releases/v1.partial").exists());
}

#[test]
fn a_url_artifact_is_downloaded_checked_and_cached_and_a_plain_tar_works() {
    let shop = Shop::new();
    // Serve the temp dir's artifacts, as .tar (no gzip) too.
    let server = crate::harness::http::FileServer::start(shop.env.path("artifacts"));
    let text = std::fs::read_to_string(shop.env.path("shop.yaml")).unwrap();
    let text = text.replace(
        &format!(
            "path: \"{}/shop-{{{{ version }}}}.tar.gz\"",
            shop.env.path("artifacts").display()
        ),
        &format!("url: \"{}\"", server.url("/shop-{{ version }}.{{ ext }}")),
    );
    assert!(text.contains("url:"), "{text}");
    shop.env.write("shop.yaml", &text);
    let sha = shop.artifact("v1", false);
    let deploy = |v: &str, ext: &str, sha: &str| {
        shop.env
            .tend()
            .args(["deploy", "shop.yaml", "--var"])
            .arg(format!("version={v}"))
            .arg("--var")
            .arg(format!("ext={ext}"))
            .arg("--var")
            .arg(format!("sha={sha}"))
            .output()
            .unwrap()
    };
    let out = deploy("v1", "tar.gz", &sha);
    Run::of(&out).code(0);
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
    assert_eq!(*server.hits.lock().unwrap(), 1);
    assert!(
        shop.root()
            .join(format!(".tend/cache/{sha}.artifact"))
            .exists()
    );

    // v2 as an uncompressed tar.
    shop.artifact("v2", false);
    let gz = shop.env.path("artifacts/shop-v2.tar.gz");
    let mut raw = vec![];
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap()),
        &mut raw,
    )
    .unwrap();
    let tar = shop.env.path("artifacts/shop-v2.tar");
    std::fs::write(&tar, &raw).unwrap();
    let sha2 = crate::harness::deploy::sha256(&tar);
    let out = deploy("v2", "tar", &sha2);
    Run::of(&out).code(0);
    assert_eq!(shop.health().unwrap(), "version=v2 greeting=hello");

    // A 404 is a fetch failure: nothing stopped.
    let out = deploy("v9", "tar.gz", &"ab".repeat(32));
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(
        err.contains("HTTP 404") && err.contains("nothing was stopped"),
        "{err}"
    );
    assert_eq!(shop.health().unwrap(), "version=v2 greeting=hello");

    // The same build again after a failed deploy comes from the cache, not the network.
    let out = shop
        .env
        .tend()
        .args(["rollback", "shop.yaml"])
        .output()
        .unwrap();
    Run::of(&out).code(0);
    std::fs::remove_dir_all(shop.root().join("releases/v2")).unwrap();
    let before = *server.hits.lock().unwrap();
    let out = deploy("v2", "tar", &sha2);
    let err = stderr(&out);
    Run::of(&out).code(0);
    assert!(err.contains("from the download cache"), "{err}");
    assert_eq!(*server.hits.lock().unwrap(), before);
}

#[test]
fn a_rollback_is_emailed_and_secrets_never_show() {
    let env_smtp = crate::harness::Env::new();
    let smtp = crate::harness::smtp::SmtpServer::start(env_smtp.dir.path());
    let port = smtp.port;
    let shop = Shop::with_playbook(|p| {
        p.replace(
            "deploy:\n",
            &format!(
                "secrets:\n  db_password: {{ env: SHOP_DB_PASSWORD }}\nnotify:\n  email:\n    to: [oncall@example.com]\n    from: tend@example.com\n    smtp: {{ host: 127.0.0.1, port: {port}, tls: none }}\ndeploy:\n"
            ),
        )
        .replace(
            "  start: [ \"bin/start\" ]",
            "  start: [ \"bin/start\", \"echo connecting with {{ db_password }}\" ]",
        )
    });
    shop.env.write(
        "app.conf.j2",
        "port={{ port }}\ngreeting={{ greeting }}\ndb_password={{ db_password }}\n",
    );
    let secret = "s3cr3t-Pa55";
    let out = shop.deploy_with("v1", false, &[("SHOP_DB_PASSWORD", secret)]);
    Run::of(&out).code(0);
    assert!(smtp.messages().is_empty(), "no mail on success by default");
    let conf = std::fs::read_to_string(shop.root().join("shared/app.conf")).unwrap();
    assert!(conf.contains(secret), "the config file gets the real value");

    let out = shop.deploy_with("v2", true, &[("SHOP_DB_PASSWORD", secret)]);
    let err = stderr(&out);
    Run::of(&out).code(1);
    // Unfold headers and undo quoted-printable enough to read the text.
    let mail = smtp
        .wait_for_messages(1)
        .remove(0)
        .replace("\r\n", "\n")
        .replace("=\n", "")
        .replace("\n ", " ")
        .replace("=3D", "=");
    assert!(
        mail.contains("deploy of v2 FAILED, rolled back (verified)"),
        "{mail}"
    );
    assert!(mail.contains("rolled back to v1"), "{mail}");
    let mut everything = format!("{err}{mail}");
    for f in ["releases.json", "previous/v2.json"] {
        everything +=
            &std::fs::read_to_string(shop.root().join(".tend").join(f)).unwrap_or_default();
    }
    for entry in walkdir::WalkDir::new(shop.env.state()) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            everything += &std::fs::read_to_string(entry.path()).unwrap_or_default();
        }
    }
    assert!(
        !everything.contains(secret),
        "the secret leaked:\n{everything}"
    );
    let out = shop
        .env
        .tend()
        .args(["-v", "deploy", "shop.yaml", "--var", "version=v1", "--var"])
        .arg(format!(
            "sha={}",
            crate::harness::deploy::sha256(&shop.env.path("artifacts/shop-v1.tar.gz"))
        ))
        .env("SHOP_DB_PASSWORD", secret)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(err.contains("connecting with ***"), "{err}");
    assert!(!err.contains(secret), "{err}");
}

#[test]
fn a_deploy_killed_midway_is_taken_back_by_the_next_run_and_its_migration_dies_with_it() {
    let shop = shop_on_v1();
    let gate = shop.env.path("gate");
    let sha = shop.artifact("v2", false);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("tend"))
        .args(["deploy", "shop.yaml", "--var", "version=v2", "--var"])
        .arg(format!("sha={sha}"))
        .env("TEND_STATE_DIR", shop.env.state())
        .env("GATE_MIGRATE", &gate)
        .current_dir(shop.env.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let waiting = gate.with_extension("waiting");
    wait_for("the migration to start", Duration::from_secs(20), || {
        std::fs::read_to_string(&waiting).is_ok_and(|s| !s.trim().is_empty())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    // The migration runs in its own process group, and still dies with tend.
    let migration = std::fs::read_to_string(&waiting).unwrap();
    wait_for("the migration to end", Duration::from_secs(10), || {
        !std::path::Path::new(&format!("/proc/{}", migration.trim())).exists()
    });
    assert_eq!(shop.states(), "v1=verified v2=deploying");
    // The lock died with it; the next run says what was left behind, takes it back to v1 (the
    // migration under way gets its `down`), then deploys.
    let out = shop.deploy("v3");
    let err = stderr(&out);
    Run::of(&out).code(0);
    assert!(
        err.contains("the deploy of v2") && err.contains("never finished: it was killed"),
        "{err}"
    );
    assert!(err.contains("took over a stale lock"), "{err}");
    assert!(
        err.contains("rollback: down: bin/migrate down catalog_v2"),
        "{err}"
    );
    assert_eq!(shop.states(), "v1=verified v2=failed v3=verified");
    assert_eq!(shop.schema(), "catalog_v1 orders_v1 catalog_v3 orders_v3");
    assert_eq!(shop.health().unwrap(), "version=v3 greeting=hello");
    let v2 = &shop.journal()["releases"][1];
    assert!(
        v2["message"].as_str().unwrap().starts_with(
            "interrupted: the run was killed before it finished; rolled back to v1, verified at"
        ),
        "{v2}"
    );
}

#[test]
fn a_failed_deploys_record_says_where_it_rolled_back_to_and_whether_that_was_verified() {
    let shop = shop_on_v1();
    let out = shop.deploy_with("v2", true, &[]);
    Run::of(&out).code(1);
    let out = shop.run(&["releases", "shop.yaml"]);
    let table = stdout(&out);
    let v2 = table.lines().find(|l| l.starts_with("v2")).unwrap();
    assert!(
        v2.contains("failed") && v2.contains("rolled back to v1, verified at 20"),
        "{table}"
    );
    let out = shop.run(&["--output", "json", "releases", "shop.yaml"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rb = &v["releases"][1]["rolled_back_to"];
    assert_eq!(rb["release"], "v1", "{v}");
    assert_eq!(rb["verified"], true, "{v}");

    // A rollback that does not verify says so in the record too.
    let out = shop.deploy_with("v3", true, &[("BAD_VERSIONS", "v1")]);
    Run::of(&out).code(2);
    let rec = &shop.journal()["releases"][2];
    assert!(
        rec["message"]
            .as_str()
            .unwrap()
            .contains("rollback to v1 NOT verified"),
        "{rec}"
    );
    assert_eq!(rec["rolled_back_to"]["verified"], false, "{rec}");
}

#[test]
fn configure_never_writes_through_a_symlink_nor_out_of_the_root() {
    use std::os::unix::fs::PermissionsExt;
    let shop = shop_on_v1();
    let conf = shop.root().join("shared/app.conf");
    // A link where the config goes, to a private file elsewhere (one the app can still read,
    // so v1 comes back).
    let victim = shop.env.path("victim");
    let private = std::fs::read_to_string(&conf).unwrap() + "token=private\n";
    std::fs::write(&victim, &private).unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(&conf).unwrap();
    std::os::unix::fs::symlink(&victim, &conf).unwrap();
    let pid = shop.pid();
    let out = shop.deploy("v2");
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(
        err.contains("nothing was stopped"),
        "refused before the stop: {err}"
    );
    assert!(
        err.contains(&format!(
            "{}: it is a symlink (to {}): tend does not write a config through a link",
            conf.display(),
            victim.display()
        )),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), private);
    assert!(
        std::fs::symlink_metadata(&conf)
            .unwrap()
            .file_type()
            .is_symlink(),
        "a link stays a link"
    );
    let backups = shop.root().join(".tend/previous/v2.json");
    assert!(
        !std::fs::read_to_string(&backups)
            .unwrap_or_default()
            .contains("token=private"),
        "the link's target was not copied into the backups"
    );
    assert_eq!(shop.current(), "releases/v1");
    assert_eq!(shop.pid(), pid, "the app was never stopped");
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");

    // A directory on the way that is a link out of the root.
    let shop =
        Shop::with_playbook(|p| p.replace("dest: shared/app.conf", "dest: shared/conf.d/app.conf"));
    let outside = shop.env.path("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(shop.root().join("shared")).unwrap();
    std::os::unix::fs::symlink(&outside, shop.root().join("shared/conf.d")).unwrap();
    let out = shop.deploy("v1");
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(err.contains("nothing was stopped"), "{err}");
    assert!(
        err.contains(&format!(
            "its directory resolves to {}, outside the deploy root",
            outside.display()
        )),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written outside"
    );
}

#[test]
fn a_deploy_root_is_judged_by_its_real_path() {
    let env = crate::harness::Env::new();
    std::os::unix::fs::symlink("/etc", env.path("etc-link")).unwrap();
    std::os::unix::fs::symlink("/etc/ssl", env.path("ssl-link")).unwrap();
    for root in [
        "/tmp/../etc".to_string(),
        "/etc/../usr".to_string(),
        env.path("etc-link").display().to_string(),
        "/var/lib".to_string(),
        "/usr/local".to_string(),
        "/usr/lib/app".to_string(),
        env.path("ssl-link").display().to_string(),
        "/".to_string(),
    ] {
        env.write(
            "d.yaml",
            &format!(
                "kind: deploy\ndeploy:\n  root: {root}\n  release: v1\n  fetch: {{ path: a.tar.gz }}\n"
            ),
        );
        let out = env.tend().args(["validate", "d.yaml"]).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(64), "{root}: {err}");
        assert!(err.contains("is a system directory"), "{root}: {err}");
    }
}

#[test]
fn an_empty_artifact_or_a_bomb_is_refused_before_anything_is_stopped() {
    let shop = shop_on_v1();
    let pid = shop.pid();
    let playbook = std::fs::read_to_string(shop.env.path("shop.yaml")).unwrap();
    let fetch = "    sha256: \"{{ sha }}\"\n";
    let deploy = |v: &str, sha: &str, extra: &str| {
        shop.env.write(
            "shop.yaml",
            &playbook.replace(fetch, &format!("{fetch}{extra}")),
        );
        shop.env
            .tend()
            .args(["deploy", "shop.yaml", "--var"])
            .arg(format!("version={v}"))
            .arg("--var")
            .arg(format!("sha={sha}"))
            .output()
            .unwrap()
    };
    // 3 MiB of zeros: a 3 KiB tar.gz, which may unpack to 1 MiB at most by default.
    let zeros = vec![0u8; 3 << 20];
    for (v, entries, extra, why) in [
        ("v2", vec![], "", "the artifact has no files"),
        (
            "v3",
            vec![("VERSION", &b"v3\n"[..], 0o644)],
            "    strip_components: 1\n",
            "no files left once strip_components: 1 drops their leading directories",
        ),
        (
            "v4",
            vec![("big", &zeros[..], 0o644)],
            "",
            "the artifact unpacks to more than 1.0 MiB",
        ),
        (
            "v6",
            vec![("app/", &b""[..], 0o755), ("app/sub/", &b""[..], 0o755)],
            "",
            "the artifact holds only directories, no file",
        ),
    ] {
        let sha = shop.artifact_from(v, &entries);
        let out = deploy(v, &sha, extra);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{v}: {err}");
        assert!(err.contains(why), "{v}: {err}");
        assert!(err.contains("nothing was stopped"), "{v}: {err}");
        assert_eq!(shop.pid(), pid, "{v}: the app was not touched");
        assert_eq!(shop.current(), "releases/v1");
        assert!(!shop.root().join(format!("releases/{v}")).exists());
        assert!(!shop.root().join(format!("releases/{v}.partial")).exists());
    }
    // A release that big is deployed when the playbook allows it.
    let src = crate::harness::repo_root().join("tests/harness/app");
    let read = |f: &str| std::fs::read(src.join(f)).unwrap();
    let (app, start, stop, migrate) =
        (read("app.py"), read("start"), read("stop"), read("migrate"));
    let sha = shop.artifact_from(
        "v5",
        &[
            ("big", &zeros[..], 0o644),
            ("app.py", &app[..], 0o644),
            ("bin/start", &start[..], 0o755),
            ("bin/stop", &stop[..], 0o755),
            ("bin/migrate", &migrate[..], 0o755),
            ("VERSION", &b"v5\n"[..], 0o644),
        ],
    );
    let out = deploy("v5", &sha, "    max_unpacked_size: 8MiB\n");
    Run::of(&out).code(0);
    assert_eq!(shop.health().unwrap(), "version=v5 greeting=hello");
}

#[test]
fn a_release_name_with_a_line_break_is_refused() {
    let shop = Shop::new();
    let out = shop
        .env
        .tend()
        .args([
            "deploy",
            "shop.yaml",
            "--var",
            "version=v2\n2026-12-01T00:00:00Z ok deployed",
            "--var",
            "sha=x",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    Run::of(&out).code(64);
    assert!(
        err.contains("release 'v2\\n2026-12-01T00:00:00Z ok deployed' has a control character"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains(" ok deployed")).count(),
        1,
        "{err}"
    );
}

#[test]
fn plan_shows_a_fleet_in_its_batches_with_each_hosts_root() {
    let shop = Shop::with_playbook(|p| {
        p.replace(
            "deploy:\n",
            "hosts:\n  - deploy@127.0.0.11:2222\n  - { name: web2, address: 127.0.0.12, user: app }\n  - 127.0.0.13\n  - 127.0.0.14\n  - 127.0.0.15\nssh: { user: ops, host_key_check: accept_new }\ndeploy:\n",
        )
        .replace("  root: ", "  rollout: { batches: [1, \"50%\", \"100%\"], on_failure: rollback_all }\n  root: ")
        .replace("srv/shop", "srv/{{ host.name }}/shop")
    });
    let sha = shop.artifact("v2", false);
    let plan = |extra: &[&str]| {
        shop.env
            .tend()
            .args(["plan", "shop.yaml", "--var", "version=v2", "--var"])
            .arg(format!("sha={sha}"))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = plan(&[]);
    let text = stdout(&out);
    Run::of(&out).code(0);
    for want in [
        "deploy v2 to 5 hosts in 3 batches",
        "  batch 1:\n    deploy@127.0.0.11:2222  root ",
        "/srv/127.0.0.11/shop",
        "web2 (app@127.0.0.12)  root ",
        "/srv/web2/shop",
        "ops@127.0.0.13",
        "  batch 3:\n",
        "steps on 127.0.0.11:",
        "steps on web2:",
        "every host switched in this run goes back to its own last verified release",
        "rollback: down: bin/migrate down orders_v2",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    // As JSON: every host with its own root, steps and rollback, and the batches.
    let out = plan(&["--output", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hosts = doc["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 5);
    assert_eq!(hosts[1]["host"], "web2 (app@127.0.0.12)");
    assert!(
        hosts[1]["root"]
            .as_str()
            .unwrap()
            .ends_with("/srv/web2/shop"),
        "{doc}"
    );
    assert_eq!(hosts[1]["steps"][1]["command"], "bin/stop");
    assert!(
        hosts[4]["rollback"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["command"] == "bin/migrate down orders_v2"),
        "{doc}"
    );
    assert_eq!(
        doc["rollout"]["batches"],
        serde_json::json!([
            ["deploy@127.0.0.11:2222"],
            ["web2 (app@127.0.0.12)", "ops@127.0.0.13"],
            ["ops@127.0.0.14", "ops@127.0.0.15"]
        ])
    );
    let out = plan(&["--limit", "web2,127.0.0.15"]);
    let text = stdout(&out);
    assert!(text.contains("to 2 hosts in 2 batches"), "{text}");
    let out = plan(&["--limit", "web9"]);
    Run::of(&out).code(64);
    assert!(
        stderr(&out).contains("no host or group 'web9'"),
        "{}",
        stderr(&out)
    );

    // Nothing listens there: the canary is unreachable, so nothing anywhere is touched.
    let out = shop.deploy("v2");
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(
        err.contains("unreachable: deploy@127.0.0.11:2222: cannot connect: connection refused"),
        "{err}"
    );
    assert!(
        err.contains("summary: untouched: its batch never started"),
        "{err}"
    );
}

#[test]
fn an_ansible_inventory_is_read_as_it_is() {
    let shop = Shop::with_playbook(|p| p.replace("deploy:\n", "inventory: hosts.yaml\ndeploy:\n"));
    shop.env.write(
        "hosts.yaml",
        "all:
  vars: { ansible_user: deploy }
  children:
    canary:
      hosts:
        web1: { ansible_host: 127.0.0.21, ansible_port: 2201 }
    web:
      vars: { region: eu }
      hosts:
        web1:
        web2: { ansible_host: 127.0.0.22, ansible_user: admin, ansible_ssh_private_key_file: ~/.ssh/web2 }
        web3: { ansible_host: 127.0.0.23 }
",
    );
    let sha = shop.artifact("v2", false);
    let plan = |extra: &[&str]| {
        shop.env
            .tend()
            .args(["plan", "shop.yaml", "--var", "version=v2", "--var"])
            .arg(format!("sha={sha}"))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = plan(&[]);
    let text = stdout(&out);
    Run::of(&out).code(0);
    assert!(text.contains("to 3 hosts in 1 batch ("), "{text}");
    assert!(text.contains("web1 (deploy@127.0.0.21:2201)"), "{text}");
    assert!(text.contains("web2 (admin@127.0.0.22)"), "{text}");
    assert!(text.contains("web3 (deploy@127.0.0.23)"), "{text}");
    let out = plan(&["--limit", "canary"]);
    let text = stdout(&out);
    assert!(
        text.contains("to 1 host in 1 batch") && text.contains("web1 ("),
        "{text}"
    );
    let out = shop
        .env
        .tend()
        .args(["validate", "shop.yaml", "--var", "version=v2", "--var"])
        .arg(format!("sha={sha}"))
        .output()
        .unwrap();
    assert!(stdout(&out).contains("3 hosts"), "{}", stdout(&out));
}

#[test]
fn bad_hosts_and_batches_are_clear_errors() {
    for (edit, want) in [
        (
            "hosts: [\"deploy@web1:http\"]\n",
            "port 'http' is not a number",
        ),
        (
            "hosts: [{ name: web1, adress: 127.0.0.1 }]\n",
            "did you mean 'address'",
        ),
        ("inventory: missing.yaml\n", "cannot read inventory"),
    ] {
        let shop = Shop::with_playbook(|p| p.replace("deploy:\n", &format!("{edit}deploy:\n")));
        let out = shop.deploy("v1");
        assert_eq!(out.status.code(), Some(64), "{edit}");
        let err = stderr(&out);
        assert!(
            err.contains(want) && err.contains("shop.yaml:"),
            "{want:?} not in:\n{err}"
        );
    }
    let shop = Shop::with_playbook(|p| {
        p.replace("deploy:\n", "hosts: [127.0.0.1]\ndeploy:\n")
            .replace(
                "  root: ",
                "  rollout: { batches: [1, \"150%\"] }\n  root: ",
            )
    });
    let out = shop.deploy("v1");
    Run::of(&out).code(64);
    assert!(
        stderr(&out).contains("batch size '150%' is neither"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_relative_artifact_path_is_read_from_the_playbooks_directory() {
    let shop = Shop::with_playbook(|p| {
        let abs = p
            .lines()
            .find(|l| l.trim_start().starts_with("path:"))
            .unwrap()
            .to_string();
        p.replace(&abs, "    path: \"artifacts/shop-{{ version }}.tar.gz\"")
    });
    let sha = shop.artifact("v1", false);
    let out = shop
        .env
        .tend()
        .current_dir("/")
        .arg("deploy")
        .arg(shop.env.path("shop.yaml"))
        .args(["--var", "version=v1", "--var"])
        .arg(format!("sha={sha}"))
        .output()
        .unwrap();
    Run::of(&out).code(0);
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
}

#[test]
fn redeploying_the_live_release_neither_reruns_nor_undoes_its_migrations() {
    let shop = Shop::with_playbook(|p| {
        p.replace(
            "  greeting: hello\n",
            "  greeting: hello\n  flaky: \"no\"\n",
        )
        .replace(
            "  verify:\n",
            "  verify:\n    - { command: \"test {{ flaky }} = no\" }\n",
        )
    });
    let out = shop.deploy("v1");
    Run::of(&out).code(0);
    // The same release again (a CI re-run), whose verify fails this time.
    let out = shop.deploy_with("v1", false, &[]);
    Run::of(&out).code(0);
    let sha = shop.artifact("v1", false);
    let out = shop.run(&[
        "deploy",
        "shop.yaml",
        "--var",
        "version=v1",
        "--var",
        &format!("sha={sha}"),
        "--var",
        "flaky=yes",
    ]);
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(err.contains("already applied: v1 is live"), "{err}");
    assert!(!err.contains("bin/migrate down"), "{err}");
    assert_eq!(shop.schema(), "catalog_v1 orders_v1", "{err}");
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
    let v1 = &shop.journal()["releases"][0];
    assert_eq!(v1["state"], "verified", "{v1}");
    assert_eq!(v1["migrations"].as_array().unwrap().len(), 2, "{v1}");
}

#[test]
fn a_release_or_record_directory_that_is_a_link_is_refused_before_anything_is_written() {
    for dir in ["releases", ".tend"] {
        let shop = Shop::new();
        let outside = shop.env.path("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::create_dir_all(shop.root()).unwrap();
        std::os::unix::fs::symlink(&outside, shop.root().join(dir)).unwrap();
        let out = shop.deploy("v1");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{dir}: {err}");
        assert!(
            err.contains(&format!(
                "{} is a symlink: tend keeps releases and its records only in directories of the deploy root itself",
                shop.root().join(dir).display()
            )),
            "{dir}: {err}"
        );
        assert_eq!(
            std::fs::read_dir(&outside).unwrap().count(),
            0,
            "{dir}: nothing was written through the link"
        );
    }
}

#[test]
fn plan_shows_every_line_of_a_script_and_gives_json() {
    let env = crate::harness::Env::new();
    let root = env.path("root");
    let p = env.write(
        "d.yaml",
        &format!(
            "kind: deploy\nvars: {{ version: v1 }}\ndeploy:\n  root: {}\n  release: \"{{{{ version }}}}\"\n  fetch: {{ path: a.tar.gz, sha256: \"{}\" }}\n  stop: [bin/stop]\n  migrate:\n    - name: catalog\n      run: |\n        set -e\n        bin/migrate up catalog\n      down: bin/migrate down catalog\n  start: [\"bin/start\"]\n  verify:\n    - {{ command: \"curl -fs http://127.0.0.1:1/health\" }}\n",
            root.display(),
            "0".repeat(64)
        ),
    );
    let out = env.tend().arg("plan").arg(&p).output().unwrap();
    Run::of(&out).code(0);
    assert_eq!(
        stdout(&out),
        format!(
            "deploy v1 to {} on this machine
current: (none: first deploy)

steps:
   1. fetch v1: {}/a.tar.gz (sha256 000000000000) → releases/v1, checked before anything is stopped
   2. stop: bin/stop (skipped: no current release yet)
   3. migrate: catalog (down: bin/migrate down catalog)
        | set -e
        | bin/migrate up catalog
   4. switch current → v1
   5. start: bin/start
   6. verify command `curl -fs http://127.0.0.1:1/health`
   7. prune old releases (keep_releases: 5)

if a step from stop on fails, or tend gets SIGINT/SIGTERM, undo what ran (there is no verified release to go back to: exit 2):
   1. rollback: stop: bin/stop
   2. rollback: down: bin/migrate down catalog
",
            root.display(),
            env.dir.path().display()
        )
    );
    let out = env
        .tend()
        .args(["plan", "--output", "json"])
        .arg(&p)
        .output()
        .unwrap();
    Run::of(&out).code(0);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["kind"], "deploy");
    assert_eq!(doc["release"], "v1");
    let host = &doc["hosts"][0];
    assert_eq!(host["root"], root.display().to_string());
    assert_eq!(
        host["steps"][2]["command"],
        "set -e\nbin/migrate up catalog\n"
    );
    assert_eq!(
        host["steps"][5]["command"],
        "curl -fs http://127.0.0.1:1/health"
    );
    assert_eq!(
        host["rollback"]["steps"][1]["command"],
        "bin/migrate down catalog"
    );
    assert_eq!(doc["warnings"], serde_json::json!([]));
}

#[test]
fn plan_writes_out_a_line_break_or_escape_in_a_step_instead_of_printing_it() {
    let env = crate::harness::Env::new();
    let p = env.write(
        "d.yaml",
        &format!(
            "kind: deploy\ndeploy:\n  root: {}\n  release: v1\n  fetch: {{ path: a.tar.gz }}\n  start:\n    - name: \"nice\\n   4. start: rm -rf / (forged)\"\n      run: \"echo \\e[2K hi\\u202e\"\n",
            env.path("root").display()
        ),
    );
    let out = env.tend().arg("plan").arg(&p).output().unwrap();
    let text = stdout(&out);
    Run::of(&out).code(0);
    assert!(
        text.contains("   3. start: nice\\n   4. start: rm -rf / (forged)\n        | echo \\u{1b}[2K hi\\u{202e}\n"),
        "{text}"
    );
    assert!(!text.contains("\n   4. start: rm"), "{text}");
}

/// A journal that is not the one tend writes is refused, not read as empty and overwritten.
#[test]
fn a_journal_that_is_not_tends_is_refused_and_kept() {
    let shop = shop_on_v1();
    let journal = shop.root().join(".tend/releases.json");
    for text in ["[]", "garbage{"] {
        std::fs::write(&journal, text).unwrap();
        let out = shop.deploy("v2");
        Run::of(&out)
            .code(1)
            .stderr_has(&format!(
                "cannot read {}: not a release journal tend wrote",
                journal.display()
            ))
            .stderr_has("restore it from a backup, or move it aside to start a new one");
        assert_eq!(
            std::fs::read_to_string(&journal).unwrap(),
            text,
            "overwritten"
        );
    }
}
