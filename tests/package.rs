//! What ships beside the binary: the systemd units, checked by systemd's own verifier.

use crate::harness::{Env, repo_root};

/// Every unit under `dist/systemd/`, as an instance (`tend-check@demo.service`) where it is a
/// template, its `ExecStart=` pointed at the binary under test (the verifier checks that it is
/// there and executable): `systemd-analyze verify` says nothing, and exits 0.
#[test]
fn the_systemd_units_verify_clean() {
    let env = Env::new();
    let dir = env.path("units");
    std::fs::create_dir_all(&dir).unwrap();
    let tend = assert_cmd::cargo::cargo_bin("tend");
    let mut instances = vec![];
    for entry in std::fs::read_dir(repo_root().join("dist/systemd")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("ExecStart=/usr/bin/tend ") || name.ends_with(".timer"),
            "{name}"
        );
        std::fs::write(
            dir.join(&name),
            text.replace("/usr/bin/tend", &tend.display().to_string()),
        )
        .unwrap();
        let instance = name.replace("@.", "@demo.");
        if instance != name {
            std::os::unix::fs::symlink(&name, dir.join(&instance)).unwrap();
        }
        instances.push(dir.join(instance));
    }
    instances.sort();
    assert_eq!(instances.len(), 5, "{instances:?}");
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&instances)
        .output()
        .expect("systemd-analyze (scripts/test installs systemd)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "{err}");
}
