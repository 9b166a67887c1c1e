//! The command line itself: exit codes, help, completions and man page kept in sync.

use crate::harness::{Env, repo_root, stdout};

#[test]
fn bad_invocation_exits_64_and_check_exits_unknown() {
    let env = Env::new();
    env.tend().arg("frobnicate").assert().code(64);
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
