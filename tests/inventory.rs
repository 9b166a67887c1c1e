//! Ansible inventories: what tend reads is held to `ansible-inventory` and `ansible
//! --list-hosts` by the committed outputs under `tests/inventories/*/expected/` (the unit tests
//! in `src/inventory/` compare). Here Ansible runs again, so those outputs cannot go stale.

use crate::harness::{Env, repo_root};

/// `scripts/ansible-oracle` run now (ansible-core from `TEND_ANSIBLE_BIN`, which `scripts/test`
/// sets, or PATH) writes what is committed.
#[test]
fn the_committed_ansible_outputs_are_current() {
    let env = Env::new();
    let out = env.path("oracle");
    let bin = std::env::var("TEND_ANSIBLE_BIN").unwrap_or_default();
    let run = std::process::Command::new(repo_root().join("scripts/ansible-oracle"))
        .arg("--out")
        .arg(&out)
        .env("ANSIBLE_BIN", &bin)
        .env("HOME", env.path("home"))
        .output()
        .expect("python3");
    assert!(
        run.status.success(),
        "ansible did not run (scripts/test installs ansible-core and sets TEND_ANSIBLE_BIN): {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let cases = repo_root().join("tests/inventories");
    let mut compared = 0;
    for case in std::fs::read_dir(&cases).unwrap() {
        let case = case.unwrap().file_name();
        for file in ["list.json", "patterns.json"] {
            let fresh = std::fs::read_to_string(out.join(&case).join(file)).unwrap();
            let committed = std::fs::read_to_string(cases.join(&case).join("expected").join(file))
                .unwrap_or_default();
            assert!(
                fresh == committed,
                "tests/inventories/{}/expected/{file} is stale: run scripts/generate",
                case.to_string_lossy()
            );
            compared += 1;
        }
    }
    assert!(compared >= 6, "{compared}");
}
