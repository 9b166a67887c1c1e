//! The crash matrices: a run killed with SIGKILL at each point where it leaves something half
//! done (`TEND_TEST_CRASH_AT` stops it there exactly, as `kill -9` would), then run again. The
//! next run must finish the work: the state it leaves is verified and complete, nothing ran
//! twice, nothing the killed run started is still running, and what tend reports is the truth.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::harness::deploy::Shop;
use crate::harness::failover::pair;
use crate::harness::fleet::Fleet;
use crate::harness::{Env, stderr, stdout};

fn killed(out: &std::process::Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal() == Some(9)
}

/// Processes still running from under `dir` (by command line or working directory), but the
/// app the deploys start, which is meant to outlive tend.
fn strays(dir: &Path) -> Vec<String> {
    let dir = dir.display().to_string();
    let mut found = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = e.file_name().to_string_lossy().to_string();
        if pid.parse::<u32>().is_err() || pid == std::process::id().to_string() {
            continue;
        }
        let cmd = std::fs::read(e.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let cwd = std::fs::read_link(e.path().join("cwd"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let state = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = state
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'));
        if (cmd.contains(&dir) || cwd.starts_with(&dir)) && !cmd.contains("app.py") && !zombie {
            found.push(format!("{pid} {cmd} (in {cwd})"));
        }
    }
    found
}

fn no_strays(dir: &Path, what: &str) {
    let mut seen = vec![];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        seen = strays(dir);
        if seen.is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: still running:\n{}", seen.join("\n"));
}

/// Where a deploy is stopped, whether its build is bad (so the stop lands in its rollback),
/// and what runs next: another deploy of v2 (good) or `tend rollback`.
#[derive(Clone, Copy)]
enum Next {
    Deploy,
    Rollback,
}

/// v1 deployed; v2 killed at `point`; then `next`. The invariants hold whatever the point.
fn deploy_killed_at(point: &str, bad: bool, next: Next) {
    let shop = Shop::with_playbook(|p| {
        p.replace("retries: 30", "retries: 12").replace(
            "start: [ \"bin/start\" ]",
            "start: [ \"bin/start\", \"[ -z \\\"$HOLD\\\" ] || sleep 60 | cat\" ]",
        )
    });
    let out = shop.deploy("v1");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Killed in its second start command, the deploy leaves a pipeline running (`sleep | cat`,
    // which the kernel's death signal to the shell does not reach).
    let hold = if point.starts_with("during:start: [") {
        "1"
    } else {
        ""
    };
    let out = shop.deploy_with("v2", bad, &[("TEND_TEST_CRASH_AT", point), ("HOLD", hold)]);
    let what = format!("killed at {point}");
    assert!(killed(&out), "{what}: not killed: {}", stderr(&out));
    let out = match next {
        Next::Deploy => shop.deploy("v2"),
        Next::Rollback => shop
            .env
            .tend()
            .args(["rollback", "shop.yaml"])
            .output()
            .unwrap(),
    };
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{what}, then {err}");
    no_strays(shop.env.dir.path(), &what);
    let (v, schema) = match next {
        Next::Deploy => ("v2", "catalog_v1 orders_v1 catalog_v2 orders_v2"),
        Next::Rollback => ("v1", "catalog_v1 orders_v1"),
    };
    assert_eq!(shop.current(), format!("releases/{v}"), "{what}: {err}");
    assert_eq!(
        std::fs::read_to_string(shop.root().join(format!("releases/{v}/VERSION"))).unwrap(),
        format!("{v}\n"),
        "{what}: current is a complete release"
    );
    assert_eq!(
        shop.health().unwrap(),
        format!("version={v} greeting=hello"),
        "{what}: {err}"
    );
    assert_eq!(
        shop.schema(),
        schema,
        "{what}: each migration applied once: {err}"
    );
    let journal = shop.journal();
    let recs = journal["releases"].as_array().unwrap();
    let rec = |r: &str| recs.iter().find(|x| x["release"] == r).unwrap();
    assert_eq!(rec(v)["state"], "verified", "{what}: {journal}");
    assert!(
        recs.iter().all(|x| x["state"] != "deploying"),
        "{what}: {journal}"
    );
    assert!(
        recs.iter().all(|x| x.get("progress").is_none()),
        "{what}: {journal}"
    );
    if let Next::Rollback = next {
        let note = rec("v2")["message"].as_str().unwrap().to_string();
        assert!(
            rec("v2")["state"] != "verified" && note.contains("rolled back to v1, verified at"),
            "{what}: {journal}"
        );
    }
    assert!(
        err.contains("never finished: it was killed"),
        "{what}: {err}"
    );
}

#[test]
fn a_deploy_killed_at_any_step_is_finished_by_the_next_run() {
    for (point, next) in [
        ("during:fetch", Next::Deploy),
        ("deploy:fetched", Next::Rollback),
        ("during:stop", Next::Deploy),
        ("during:migrate: bin/migrate up catalog_v2", Next::Rollback),
        ("deploy:migrated bin/migrate up catalog_v2", Next::Deploy),
        ("during:configure", Next::Rollback),
        ("deploy:configured", Next::Deploy),
        ("deploy:switched", Next::Rollback),
        ("during:start: [ -z", Next::Deploy),
        ("during:verify", Next::Rollback),
    ] {
        deploy_killed_at(point, false, next);
    }
}

#[test]
fn a_deploy_killed_during_its_rollback_is_finished_by_the_next_run() {
    for (point, next) in [
        ("during:rollback: stop", Next::Rollback),
        ("rollback:down", Next::Deploy),
        ("during:rollback: down", Next::Rollback),
        ("during:rollback: restore", Next::Deploy),
        ("during:rollback: switch", Next::Rollback),
        ("during:rollback: start", Next::Deploy),
        ("during:rollback: verify", Next::Rollback),
    ] {
        deploy_killed_at(point, true, next);
    }
}

#[test]
fn a_rollback_killed_during_a_down_runs_each_down_once_when_finished() {
    let shop = Shop::new();
    assert_eq!(shop.deploy("v1").status.code(), Some(0));
    // Killed while it verifies v2; then the rollback that takes it back, killed in a `down`.
    let out = shop.deploy_with("v2", false, &[("TEND_TEST_CRASH_AT", "during:verify")]);
    assert!(killed(&out), "{}", stderr(&out));
    let out = shop
        .env
        .tend()
        .args(["rollback", "shop.yaml"])
        .env(
            "TEND_TEST_CRASH_AT",
            "during:rollback: down: bin/migrate down orders_v2",
        )
        .output()
        .unwrap();
    assert!(killed(&out), "{}", stderr(&out));
    let out = shop
        .env
        .tend()
        .args(["--output", "plain", "rollback", "shop.yaml"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for down in ["orders_v2", "catalog_v2"] {
        let runs = err
            .lines()
            .filter(|l| l.contains(&format!("start   rollback: down: bin/migrate down {down}")))
            .count();
        assert_eq!(runs, 1, "the down of {down} ran {runs} times: {err}");
    }
    assert_eq!(shop.schema(), "catalog_v1 orders_v1");
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
}

#[test]
fn a_fleet_deploy_killed_midway_is_finished_by_the_next_run_on_every_host() {
    for (point, bad) in [
        ("during:migrate", false),
        ("deploy:configured", false),
        ("deploy:switched", false),
        ("during:start", false),
        ("during:rollback: down", true),
    ] {
        let fleet = Fleet::new(2, 1, "{ batches: [\"100%\"] }");
        let out = fleet.deploy("v1", false, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let sha = fleet.shop.artifact("v2", bad);
        let out = fleet
            .shop
            .env
            .tend_spawnable()
            .args(["deploy", "shop.yaml", "--var", "version=v2", "--var"])
            .arg(format!("sha={sha}"))
            .env("TEND_TEST_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(killed(&out), "{point}: not killed: {}", stderr(&out));
        // On the hosts, the step under way stops when the connection ends.
        no_strays(&fleet.shop.env.path("srv"), point);
        let out = fleet.deploy("v2", false, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{point}, then {err}");
        assert_eq!(
            fleet.picture(),
            "web1 releases/v2 v2 [v1=verified v2=verified]\nweb2 releases/v2 v2 [v1=verified v2=verified]",
            "{point}: {err}"
        );
        for host in ["web1", "web2"] {
            let schema = std::fs::read_to_string(fleet.root(host).join("shared/schema")).unwrap();
            assert_eq!(
                schema.split_whitespace().collect::<Vec<_>>(),
                ["catalog_v1", "catalog_v2"],
                "{point}: {host} applied each migration once"
            );
        }
    }
}

/// Compressible logs of four different days, each distinct: name -> content.
fn logs(dir: &Path, n: usize) -> BTreeMap<String, Vec<u8>> {
    std::fs::create_dir_all(dir).unwrap();
    let mut all = BTreeMap::new();
    for i in 0..n {
        let name = format!("app-{i:03}.log");
        let text = format!("{i} request served path=/api/v1/orders\n").repeat(40 + i);
        let path = dir.join(&name);
        std::fs::write(&path, &text).unwrap();
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        let days = 2 + (i % 4) as u64;
        f.set_modified(SystemTime::now() - Duration::from_secs(days * 86_400 + i as u64))
            .unwrap();
        all.insert(name, text.into_bytes());
    }
    all
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Every original, wherever it is now (the file, its `.gz`, or inside an archive), counted.
fn copies(
    logs: &Path,
    archive: &Path,
    originals: &BTreeMap<String, Vec<u8>>,
) -> BTreeMap<String, usize> {
    let mut count: BTreeMap<String, usize> = originals.keys().map(|k| (k.clone(), 0)).collect();
    let mut seen = |name: &str, content: &[u8], what: &str| {
        let base = name.trim_end_matches(".gz");
        let original = originals
            .get(base)
            .unwrap_or_else(|| panic!("{what}: unexpected {name}"));
        let content = if name.ends_with(".gz") {
            gunzip(content)
        } else {
            content.to_vec()
        };
        assert_eq!(&content, original, "{what}: {name} holds other bytes");
        *count.get_mut(base).unwrap() += 1;
    };
    for e in std::fs::read_dir(logs).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        seen(&name, &std::fs::read(e.path()).unwrap(), "logs");
    }
    for e in std::fs::read_dir(archive).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        assert!(name.ends_with(".tar.gz"), "left in the archive dir: {name}");
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
            std::fs::File::open(e.path()).unwrap(),
        ));
        for entry in ar.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let mut bytes = vec![];
            entry.read_to_end(&mut bytes).unwrap();
            seen(&path, &bytes, &name);
        }
    }
    count
}

#[test]
fn a_cleanup_killed_at_any_of_fifty_points_loses_nothing_and_is_finished_by_the_next_run() {
    const FILES: usize = 160;
    let mut points: Vec<String> = vec![];
    for k in (1..=FILES).step_by(10) {
        points.push(format!("compress:written#{k}"));
        points.push(format!("compress:renamed#{k}"));
        points.push(format!("archive:source-removed#{k}"));
    }
    for k in 1..=4 {
        points.push(format!("archive:listed#{k}"));
        points.push(format!("archive:renamed#{k}"));
    }
    assert!(points.len() >= 50);
    for point in &points {
        let env = Env::new();
        let dir = env.path("logs");
        let archive = env.path("archive");
        let originals = logs(&dir, FILES);
        env.write(
            "cleanup.yaml",
            &format!(
                "kind: cleanup
rules:
  - {{ name: compress, path: {d}, match: [\"*.log\"], older_than: 1d, action: compress }}
  - name: bundle
    path: {d}
    match: [\"*.gz\"]
    older_than: 1d
    action: archive
    archive: {{ dest: {a}, name: \"app-{{{{ date }}}}.tar.gz\", group_by: day }}
",
                d = dir.display(),
                a = archive.display()
            ),
        );
        let out = env
            .tend()
            .args(["cleanup", "cleanup.yaml"])
            .env("TEND_TEST_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(killed(&out), "{point}: not killed: {}", stderr(&out));
        let out = env
            .tend()
            .args(["cleanup", "cleanup.yaml"])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{point}, then {err}");
        let leftovers: Vec<PathBuf> = walkdir::WalkDir::new(env.dir.path())
            .into_iter()
            .flatten()
            .map(|e| e.path().to_path_buf())
            .filter(|p| {
                let n = p.file_name().unwrap_or_default().to_string_lossy();
                n.ends_with(".partial") || n.ends_with(".sources")
            })
            .collect();
        assert!(leftovers.is_empty(), "{point}: {leftovers:?}");
        let count = copies(&dir, &archive, &originals);
        let wrong: Vec<_> = count.iter().filter(|(_, n)| **n != 1).collect();
        assert!(
            wrong.is_empty(),
            "{point}: not exactly once: {wrong:?}\n{err}"
        );
        // All done: the logs were all compressed and bundled.
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "{point}: {err}"
        );
    }
}

#[test]
fn a_failover_killed_midway_is_finished_by_the_next_run_fencing_and_promoting_once() {
    for point in [
        "during:fence",
        "failover:fenced",
        "failover:promoted",
        "failover:before-verify",
    ] {
        let mut p = pair();
        p.dns1.kill();
        let out = p
            .env
            .tend()
            .args(["failover", "dns.yaml"])
            .env("TEND_TEST_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(killed(&out), "{point}: not killed: {}", stderr(&out));
        let out = p.failover(&[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{point}, then {err}");
        assert_eq!(p.first_nameserver(), p.dns2.ip, "{point}: {err}");
        let fences = p.fence_log().lines().count();
        assert!(fences <= 1, "{point}: fenced {fences} times: {err}");
        if point != "during:fence" {
            assert_eq!(fences, 1, "{point}: {err}");
        }
        let state_dir = p.env.state().join("failover");
        let file = std::fs::read_dir(&state_dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
        assert!(state["sequence"].is_null(), "{point}: {state}");
        assert_eq!(state["last_failover"]["to"], "dns2", "{point}: {state}");
        // The state says what the resolv file says.
        let written: Vec<&str> = state["resolv_written"]["nameservers"]
            .as_array()
            .unwrap_or_else(|| panic!("{point}: {state}"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(written[0], p.dns2.ip, "{point}: {state}");
        let promotions = state["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["what"].as_str().unwrap().starts_with("promoted"))
            .count();
        assert!(
            promotions <= 1,
            "{point}: promoted {promotions} times: {state}"
        );
    }
}

/// A redeploy of the live release killed midway: the next deploy takes it back without undoing
/// the live release's own migrations, and the same build is still accepted afterwards.
#[test]
fn a_redeploy_of_the_live_release_killed_midway_keeps_its_migrations() {
    let shop = Shop::new();
    assert_eq!(shop.deploy("v1").status.code(), Some(0));
    let out = shop.deploy_with("v1", false, &[("TEND_TEST_CRASH_AT", "during:start")]);
    assert!(killed(&out), "{}", stderr(&out));
    let out = shop.deploy("v1");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("rollback: down"), "a down ran: {err}");
    assert_eq!(shop.schema(), "catalog_v1 orders_v1");
    assert_eq!(shop.health().unwrap(), "version=v1 greeting=hello");
    assert_eq!(shop.states(), "v1=verified");
    // And again: the release's record still knows its build.
    let out = shop.deploy("v1");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Killed while it fetches, before anything was stopped: still verified, nothing undone.
    let out = shop.deploy_with("v1", false, &[("TEND_TEST_CRASH_AT", "during:fetch")]);
    assert!(killed(&out), "{}", stderr(&out));
    let out = shop.deploy("v1");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(shop.states(), "v1=verified");
    assert_eq!(shop.schema(), "catalog_v1 orders_v1");
}

#[test]
fn a_drill_killed_at_any_step_is_returned_by_the_next_drill() {
    for point in [
        "during:rollback: stop",
        "rollback:down",
        "rollback:downed bin/migrate up orders_v2",
        "during:rollback: down: bin/migrate down catalog_v2",
        "during:rollback: restore",
        "during:rollback: switch",
        "during:rollback: verify",
        "during:fetch",
        "during:migrate: bin/migrate up orders_v2",
        "deploy:configured",
        "deploy:switched",
        "during:verify",
    ] {
        let shop = Shop::with_playbook(|p| p + "drill: { allowed: true }\n");
        for v in ["v1", "v2"] {
            assert_eq!(shop.deploy(v).status.code(), Some(0));
        }
        let out = shop
            .env
            .tend()
            .args(["drill", "shop.yaml"])
            .env("TEND_TEST_CRASH_AT", point)
            .output()
            .unwrap();
        let what = format!("a drill killed at {point}");
        assert!(killed(&out), "{what}: not killed: {}", stderr(&out));
        let out = shop.run(&["drill", "shop.yaml"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{what}, then: {err}");
        assert!(
            err.contains("a drill was killed midway: returning to v2, where it started, first"),
            "{what}: {err}"
        );
        no_strays(shop.env.dir.path(), &what);
        assert_eq!(shop.current(), "releases/v2", "{what}: {err}");
        assert_eq!(
            shop.health().unwrap(),
            "version=v2 greeting=hello",
            "{what}"
        );
        assert_eq!(
            shop.schema(),
            "catalog_v1 orders_v1 catalog_v2 orders_v2",
            "{what}: each migration applied once: {err}"
        );
        assert_eq!(shop.states(), "v1=verified v2=verified", "{what}: {err}");
        assert!(shop.journal().get("drill").is_none(), "{what}");
    }
}

#[test]
fn a_failover_drill_killed_midway_is_returned_by_the_next_and_holds_nothing_down() {
    for point in [
        "failover:promoted",
        "failover:fenced#2",
        "during:drill: restore dns1",
    ] {
        let p = crate::harness::failover::drilled_pair();
        let out = p
            .env
            .tend()
            .args(["drill", "dns.yaml"])
            .env("TEND_TEST_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(killed(&out), "{point}: not killed: {}", stderr(&out));
        // A cron run in between says a drill left things half done.
        let out = p.failover(&[]);
        let err = stderr(&out);
        assert!(err.contains("was killed midway"), "{point}: {err}");
        let out = p.env.tend().args(["drill", "dns.yaml"]).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{point}, then {err}");
        assert!(
            err.contains("was killed midway: returning to dns1 and restoring every server first"),
            "{point}: {err}"
        );
        assert_eq!(p.first_nameserver(), p.dns1.ip, "{point}: {err}");
        for s in [&p.dns1, &p.dns2] {
            assert!(
                crate::harness::dns::query(&s.address()).is_some(),
                "{point}: {} does not answer: {err}",
                s.name
            );
        }
        // No drill's failover holds a real one down.
        let out = p.failover(&["--status"]);
        assert!(
            !stdout(&out).contains("last failover"),
            "{point}: {}",
            stdout(&out)
        );
    }
}

#[test]
fn a_deploy_after_a_killed_drill_refuses_until_the_drill_or_a_rollback_decides() {
    let shop = Shop::with_playbook(|p| p + "drill: { allowed: true }\n");
    for v in ["v1", "v2"] {
        assert_eq!(shop.deploy(v).status.code(), Some(0));
    }
    let out = shop
        .env
        .tend()
        .args(["drill", "shop.yaml"])
        .env("TEND_TEST_CRASH_AT", "rollback:downed")
        .output()
        .unwrap();
    assert!(killed(&out), "not killed: {}", stderr(&out));
    // v2's record still lists the migration whose `down` ran: a redeploy would skip it.
    let out = shop.deploy("v2");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("a drill killed midway left ") && err.contains("between v2 and v1"),
        "{err}"
    );
    let out = shop.run(&["drill", "shop.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(shop.schema(), "catalog_v1 orders_v1 catalog_v2 orders_v2");
    assert_eq!(shop.deploy("v2").status.code(), Some(0));
}
