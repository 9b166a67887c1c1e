//! A check that fixes what it finds: `remedy:` runs a cleanup playbook or a command where the
//! check went bad, the check is measured again, and the output and the alert tell the story.

use crate::harness::Env;
use crate::harness::hosts::Hosts;
use crate::harness::run::Runs;
use crate::harness::smtp::{SmtpServer, readable};

/// A tmpfs of `mib` MiB at `dir`, unmounted when dropped (the tests run as root).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: std::path::PathBuf, mib: u32) -> Tmpfs {
        std::fs::create_dir_all(&dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(&dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount a tmpfs at {}", dir.display());
        Tmpfs(dir)
    }

    /// Fill it with `n` files of 1 MiB, three days old.
    fn fill(&self, n: usize) {
        for i in 0..n {
            let p = self.0.join(format!("app{i}.log"));
            std::fs::write(&p, vec![b'x'; 1 << 20]).unwrap();
            crate::harness::aged(&p, 3 * 86_400);
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_remedy_cleanup_brings_a_filling_disk_back_to_ok_and_the_alert_tells_the_story() {
    let hosts = Hosts::new(1);
    let smtp = SmtpServer::start(hosts.env.dir.path());
    let data = Tmpfs::mount(hosts.env.path("data"), 10);
    data.fill(9);
    hosts.env.write(
        "expire-logs.yaml",
        &format!(
            "kind: cleanup\nrules:\n  - name: expire old logs\n    path: {}\n    match: [\"*.log\"]\n    older_than: 1d\n    action: delete\n",
            data.0.display()
        ),
    );
    hosts.env.write(
        "data-disk.yaml",
        &format!(
            "kind: check
name: data-disk
{}{}checks:
  - disk: {{ mount: {}, warn: 70, crit: 80 }}
    name: data
    remedy: {{ cleanup: expire-logs.yaml, max_per: 1h }}
",
            hosts.yaml(&[]),
            smtp.notify(),
            data.0.display()
        ),
    );

    // What will happen is in the plan.
    let plan = hosts.tend(&["plan", "data-disk.yaml"]);
    plan.code(0).stdout_has(
        "remedy when critical: cleanup expire-logs.yaml, then the check again; at most once per 1h on a host",
    );

    // CRITICAL on the host, the cleanup runs there, and the check is OK again.
    let run = hosts.tend(&["check", "--output", "plain", "data-disk.yaml"]);
    run.code(0);
    let out = run.stdout();
    assert!(out.starts_with("OK       web1 data: 0% used"), "{out}");
    assert!(out.contains("[remedy: was CRITICAL (9"), "{out}");
    assert!(
        out.contains(
            "; ran cleanup expire-logs.yaml: 9 files, 9.0 MiB reclaimed; now OK (0% used)]"
        ),
        "{out}"
    );
    assert_eq!(std::fs::read_dir(&data.0).unwrap().count(), 0);
    let msgs = smtp.wait_for_messages(1);
    let m = readable(&msgs[0]);
    assert!(
        m.contains("Subject: [tend] web1: REMEDIED data 0% used"),
        "{m}"
    );
    assert!(
        m.contains("  remedy:     was CRITICAL (9"),
        "the whole story in the alert: {m}"
    );

    // It fills again at once: the remedy is held back (max_per) and the alert pages a human.
    data.fill(9);
    let run = hosts.tend(&["check", "--output", "plain", "data-disk.yaml"]);
    run.code(2);
    let out = run.stdout();
    assert!(out.contains("CRITICAL web1 data: 9"), "{out}");
    assert!(
        out.contains("[remedy: remedy held back: cleanup expire-logs.yaml: it ran "),
        "{out}"
    );
    assert!(
        out.contains("and runs at most once per 1h (max_per)]"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_dir(&data.0).unwrap().count(),
        9,
        "nothing deleted"
    );
    let msgs = smtp.wait_for_messages(2);
    let m = readable(&msgs[1]);
    assert!(m.contains("Subject: [tend] web1: CRITICAL data 9"), "{m}");
    assert!(m.contains("remedy held back"), "{m}");
}

#[test]
fn a_command_remedy_that_does_not_help_says_a_human_is_needed() {
    let env = Env::new();
    let smtp = SmtpServer::start(env.dir.path());
    let flag = env.path("flag");
    let tries = env.path("tries");
    let p = env.write(
        "app.yaml",
        &format!(
            "kind: check
name: app
{}checks:
  - probe: {{ command: \"test -e {flag}\" }}
    name: app up
    remedy: {{ run: \"echo try >> {tries}\", max_per: 1s }}
",
            smtp.notify(),
            flag = flag.display(),
            tries = tries.display(),
        ),
    );
    // --no-remedy evaluates only.
    env.tend()
        .args(["check", "--no-remedy", "--no-notify"])
        .arg(&p)
        .run()
        .code(2);
    assert!(!tries.exists(), "--no-remedy ran the remedy");

    let run = env
        .tend()
        .args(["check", "--output", "plain"])
        .arg(&p)
        .run();
    run.code(2);
    let out = run.stdout();
    assert!(out.contains("[remedy: was CRITICAL ("), "{out}");
    assert!(out.contains("ran `echo try >> "), "{out}");
    assert!(
        out.contains("still CRITICAL (") && out.contains("after the remedy: a human is needed]"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&tries).unwrap(), "try\n");
    let m = readable(&smtp.wait_for_messages(1)[0]);
    assert!(m.contains("Subject: [tend] "), "{m}");
    assert!(m.contains("a human is needed"), "{m}");
}
