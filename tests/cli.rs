//! The command line itself: exit codes, help, completions and man page kept in sync.

use crate::harness::{Env, repo_root, stdout};

#[test]
fn bad_invocation_exits_64_and_check_exits_unknown() {
    let env = Env::new();
    env.tend().arg("frobnicate").assert().code(64);
    // An argument that is not UTF-8 is a usage error, not a crash.
    use std::os::unix::ffi::OsStrExt;
    env.tend()
        .args(["deploy", "x.yaml", "--var"])
        .arg(std::ffi::OsStr::from_bytes(b"rel=a\xffb"))
        .assert()
        .code(64);
    env.tend()
        .args(["check", "--no-such-flag"])
        .assert()
        .code(3)
        .stdout(predicates::str::starts_with(
            "TEND UNKNOWN - unexpected argument '--no-such-flag'",
        ));
    env.tend()
        .args(["validate", "x.yaml", "--output", "nagios"])
        .assert()
        .code(64);
    env.tend()
        .arg("--version")
        .assert()
        .code(0)
        .stdout(predicates::str::starts_with("tend "));
}

#[test]
fn help_documents_the_exit_codes() {
    let env = Env::new();
    let out = env.tend().arg("--help").output().unwrap();
    let help = stdout(&out);
    for line in [
        "64  bad invocation",
        "75  another run holds",
        "2   the job failed and the system is NOT verified",
    ] {
        assert!(help.contains(line), "{help}");
    }
}

#[test]
fn committed_completions_are_current() {
    let env = Env::new();
    for (shell, file) in [
        ("bash", "tend.bash"),
        ("zsh", "_tend"),
        ("fish", "tend.fish"),
        ("elvish", "tend.elv"),
        ("powershell", "_tend.ps1"),
    ] {
        let fresh = stdout(&env.tend().args(["completions", shell]).output().unwrap());
        let committed =
            std::fs::read_to_string(repo_root().join("completions").join(file)).unwrap_or_default();
        assert!(
            fresh == committed,
            "completions/{file} is stale: run scripts/generate"
        );
    }
}

#[test]
fn committed_man_page_is_current() {
    let env = Env::new();
    let fresh = stdout(&env.tend().arg("man").output().unwrap());
    assert!(fresh.contains(".TH tend 1"), "{fresh}");
    let committed = std::fs::read_to_string(repo_root().join("man/tend.1")).unwrap_or_default();
    assert!(
        fresh == committed,
        "man/tend.1 is stale: run scripts/generate"
    );
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let env = Env::new();
    let text = stdout(&env.tend().arg("--version").output().unwrap());
    // `tend 0.1.0 (4fc15a7 2026-11-30)`
    let (head, rest) = text.trim_end().split_once(" (").unwrap_or_default();
    assert_eq!(
        head,
        format!("tend {}", env!("CARGO_PKG_VERSION")),
        "{text}"
    );
    let (commit, date) = rest
        .strip_suffix(')')
        .and_then(|r| r.split_once(' '))
        .unwrap_or_default();
    assert!(
        commit.len() == 7 && commit.chars().all(|c| c.is_ascii_hexdigit()),
        "{text}"
    );
    assert!(
        date.len() == 10 && date.chars().filter(|c| *c == '-').count() == 2,
        "{text}"
    );
}

#[test]
fn usage_lines_do_not_show_state_dir_as_required_when_the_variable_is_set() {
    let env = Env::new();
    let out = env
        .tend()
        .env("TEND_STATE_DIR", env.path("state"))
        .arg("deploy")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = crate::harness::stderr(&out);
    assert!(err.contains("Usage: tend deploy <PLAYBOOK>"), "{err}");
}

#[test]
fn history_refuses_an_unknown_kind_and_a_zero_limit() {
    let env = Env::new();
    let out = env
        .tend()
        .args(["history", "--kind", "bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(
        crate::harness::stderr(&out)
            .contains("[possible values: deploy, rollback, cleanup, failover, check, drill]"),
        "{}",
        crate::harness::stderr(&out)
    );
    let out = env
        .tend()
        .args(["history", "--limit", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
}

/// Whatever stops a subcommand is printed once, on stderr, and sets the documented exit code;
/// `tend check` turns it into UNKNOWN with the plugin line on stdout.
#[test]
fn an_error_is_printed_once_with_its_exit_code() {
    use crate::harness::run::Runs;
    let env = Env::new();
    env.write("check.yaml", "kind: check\nchecks:\n  - disk: {}\n");
    let missing = "cannot read playbook missing.yaml: no such file";
    let cases: &[(&[&str], i32, &str, &str)] = &[
        (&["deploy", "missing.yaml"], 64, missing, ""),
        (&["rollback", "missing.yaml"], 64, missing, ""),
        (&["releases", "missing.yaml"], 64, missing, ""),
        (&["plan", "missing.yaml"], 64, missing, ""),
        (&["cleanup", "missing.yaml"], 64, missing, ""),
        (&["failover", "missing.yaml"], 64, missing, ""),
        (&["check", "missing.yaml"], 3, missing, ""),
        (
            &["check", "--output", "nagios", "missing.yaml"],
            3,
            missing,
            "TEND UNKNOWN - cannot read playbook missing.yaml: no such file\n",
        ),
        (
            &["history", "show", "20260101-000000-0000"],
            64,
            "tend: no run '20260101-000000-0000' in ",
            "",
        ),
        (
            &["deploy", "--output", "nagios", "x.yaml"],
            64,
            "tend: --output nagios is only for `tend check`",
            "",
        ),
    ];
    for (args, code, said, out) in cases {
        let run = env.tend().args(*args).run();
        run.code(*code).stderr_has(said).stdout_is(out);
        assert_eq!(
            run.stderr().matches(said).count(),
            1,
            "said once: tend {args:?}\n{}",
            run.stderr()
        );
    }
}

/// A playbook's path may hold any byte: what tend prints about it cannot drive the terminal.
#[test]
fn a_path_with_control_characters_is_written_out() {
    use crate::harness::run::Runs;
    let env = Env::new();
    let name = "x\u{1b}[31m\ny.yaml";
    env.write(name, "kind: check\nchecks:\n  - disk: {}\n");
    let validate = env.tend().args(["validate", name]).run();
    validate.code(0).stdout_has("ok: x\\u{1b}[31m\\ny.yaml");
    let rollback = env.tend().args(["rollback", name]).run();
    rollback
        .code(64)
        .stderr_has("--> x\\u{1b}[31m\\ny.yaml:1:7");
    let other = "c\u{1b}[2J.yaml";
    env.write(other, "kind: cleanup\nrules: []\n");
    let check = env
        .tend()
        .args(["check", "--output", "nagios", other])
        .run();
    check
        .code(3)
        .stdout_has("TEND UNKNOWN - c\\u{1b}[2J.yaml:1:7: this is a cleanup playbook");
    for run in [&validate, &rollback, &check] {
        assert!(
            !run.stdout().contains('\u{1b}') && !run.stderr().contains('\u{1b}'),
            "{}{}",
            run.stdout(),
            run.stderr()
        );
    }
}

#[test]
fn a_closed_stdout_is_not_a_crash() {
    let env = Env::new();
    let logs = env.path("logs");
    std::fs::create_dir_all(&logs).unwrap();
    env.write(
        "c.yaml",
        &format!(
            "kind: cleanup\nrules: [ {{ path: {}, match: [\"*.log\"], action: delete }} ]\n",
            logs.display()
        ),
    );
    for args in [
        &["completions", "bash"][..],
        &["man"],
        &["plan", "c.yaml"],
        &["--output", "json", "check"],
    ] {
        // A pipe whose reader is gone: every write to it fails with EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = env
            .tend_spawnable()
            .args(args)
            .stdout(writer)
            .spawn()
            .unwrap()
            .wait_with_output()
            .unwrap();
        let err = crate::harness::stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            matches!(out.status.code(), Some(0..=3)),
            "{args:?}: {:?} {err}",
            out.status
        );
    }
}
