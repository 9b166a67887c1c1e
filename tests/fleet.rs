//! `tend deploy`, `rollback` and `releases` on a fleet: the deploy tests' app on hosts reached
//! over real OpenSSH sshd instances on loopback, each host with its own root and app port.

use crate::harness::fleet::Fleet;
use crate::harness::run::{Run, Runs};
use crate::harness::{stderr, stdout};

const CANARY: &str = r#"{ batches: [1, "100%"] }"#;

#[test]
fn v1_then_v2_to_three_hosts_canary_first() {
    let f = Fleet::new(3, 1, CANARY);
    let out = f.deploy("v1", false, &[]);
    Run::of(&out).code(0);
    let out = f.deploy("v2", false, &[]);
    let err = stderr(&out);
    Run::of(&out).code(0);
    assert_eq!(
        f.picture(),
        "web1 releases/v2 v2 [v1=verified v2=verified]\n\
         web2 releases/v2 v2 [v1=verified v2=verified]\n\
         web3 releases/v2 v2 [v1=verified v2=verified]"
    );
    // The canary's batch was verified before the rest began.
    let canary_verified = err.find("[web1] ok      verify").expect("web1 verified");
    let batch2 = err.find("batch 2/2: web2, web3").expect("second batch");
    assert!(canary_verified < batch2, "{err}");
    // Every host line names its host, for grep.
    for h in ["web1", "web2", "web3"] {
        assert!(
            err.contains(&format!("[{h}] ok      switch current → v2")),
            "{err}"
        );
        assert!(
            err.contains(&format!("[{h}] info    summary: on v2, verified")),
            "{err}"
        );
    }
    assert!(
        err.contains("deployed v2 to 3 hosts: live and verified (exit 0"),
        "{err}"
    );

    let out = f
        .shop
        .env
        .tend()
        .args(["releases", "shop.yaml"])
        .output()
        .unwrap();
    Run::of(&out).code(0);
    assert_eq!(
        stdout(&out),
        "HOST  v1        v2\n\
         web1  verified  verified*\n\
         web2  verified  verified*\n\
         web3  verified  verified*\n\
         (* current)\n"
    );
}

#[test]
fn a_bad_build_caught_on_the_canary_leaves_the_other_hosts_untouched() {
    let f = Fleet::new(3, 1, CANARY);
    Run::of(&f.deploy("v1", false, &[])).code(0);
    let out = f.deploy("v2", true, &[]);
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert_eq!(
        f.picture(),
        "web1 releases/v1 v1 [v1=verified v2=failed]\n\
         web2 releases/v1 v1 [v1=verified]\n\
         web3 releases/v1 v1 [v1=verified]"
    );
    assert!(
        !f.root("web2").join("releases/v2").exists(),
        "never touched"
    );
    assert!(
        err.contains("[web2] info    summary: untouched: its batch never started"),
        "{err}"
    );
    assert!(
        err.contains("batch 1/2 failed on 1 of 1 hosts (web1"),
        "{err}"
    );
}

#[test]
fn verify_failing_on_one_host_of_the_second_batch_takes_every_host_back() {
    // web3 answers 500 on v2 only.
    let f = Fleet::with_vars(3, 1, CANARY, &[(2, "bad: v2")]);
    Run::of(&f.deploy("v1", false, &[])).code(0);
    let out = f.deploy("v2", false, &[]);
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert_eq!(
        f.picture(),
        "web1 releases/v1 v1 [v1=verified v2=rolled-back]\n\
         web2 releases/v1 v1 [v1=verified v2=rolled-back]\n\
         web3 releases/v1 v1 [v1=verified v2=failed]"
    );
    assert!(
        err.contains("on_failure: rollback_all: rolling back 2 host(s) on v2"),
        "{err}"
    );
    assert!(
        err.contains("[web1] warn    summary: rolled back to v1, verified"),
        "{err}"
    );
    assert!(
        err.contains("every host touched is back on its previous release, verified (exit 1"),
        "{err}"
    );
}

#[test]
fn on_failure_halt_keeps_the_verified_hosts_on_the_new_release() {
    let f = Fleet::with_vars(
        3,
        1,
        r#"{ batches: [1, "100%"], on_failure: halt }"#,
        &[(2, "bad: v2")],
    );
    Run::of(&f.deploy("v1", false, &[])).code(0);
    let out = f.deploy("v2", false, &[]);
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert_eq!(
        f.picture(),
        "web1 releases/v2 v2 [v1=verified v2=verified]\n\
         web2 releases/v2 v2 [v1=verified v2=verified]\n\
         web3 releases/v1 v1 [v1=verified v2=failed]"
    );
    assert!(err.contains("2 of 3 hosts stay on v2 (verified)"), "{err}");
}

#[test]
fn a_host_whose_sshd_dies_mid_deploy_is_named_not_verified_and_the_others_go_back() {
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate");
    // web1 and web2 on one sshd, web3 on its own; web3's migration waits at a gate.
    let f = Fleet::with_vars(
        3,
        2,
        r#"{ batches: ["100%"] }"#,
        &[(2, &format!("gate: {}", gate.display()))],
    );
    let mut f = f;
    // v1 goes out with the gate open.
    std::fs::write(&gate, "").unwrap();
    Run::of(&f.deploy("v1", false, &[])).code(0);
    std::fs::remove_file(&gate).unwrap();
    std::fs::remove_file(gate.with_extension("waiting")).unwrap();
    let child = f.deploy_spawn("v2", false, &[]);
    crate::harness::wait_for(
        "web3's migration",
        std::time::Duration::from_secs(30),
        || gate.with_extension("waiting").exists(),
    );
    f.sshd[1].kill_all();
    let out = child.wait_with_output().unwrap();
    std::fs::write(&gate, "").unwrap();
    let err = stderr(&out);
    Run::of(&out).code(2);
    assert!(
        err.contains("deploy of v2 FAILED and 1 of 3 hosts are NOT VERIFIED: web3"),
        "{err}"
    );
    assert!(
        err.contains("[web3] error   summary: NOT VERIFIED"),
        "{err}"
    );
    let picture = f.picture();
    assert!(
        picture.starts_with(
            "web1 releases/v1 v1 [v1=verified v2=rolled-back]\n\
             web2 releases/v1 v1 [v1=verified v2=rolled-back]\n"
        ),
        "{picture}\n{err}"
    );
}

#[test]
fn limit_deploys_only_the_hosts_named() {
    let f = Fleet::new(3, 1, CANARY);
    let out = f.deploy("v1", false, &["--limit", "web2"]);
    Run::of(&out).code(0);
    assert_eq!(f.current("web1"), "(none)");
    assert_eq!(f.current("web2"), "releases/v1");
    assert_eq!(f.version("web2"), "v1");
    assert_eq!(f.current("web3"), "(none)");
    let out = f.deploy("v1", false, &["--limit", "web9"]);
    Run::of(&out).code(64);
}

#[test]
fn an_ansible_inventory_brings_the_hosts_and_its_groups() {
    let f = Fleet::new(2, 1, CANARY);
    let sshd = &f.sshd[0];
    let inventory = format!(
        "all:\n  vars:\n    ansible_host: 127.0.0.1\n    ansible_port: {}\n    ansible_ssh_private_key_file: {}\n  children:\n    web:\n      hosts:\n        web1: {{ port: {} }}\n    api:\n      hosts:\n        web2: {{ port: {} }}\n",
        sshd.port,
        sshd.key.display(),
        f.hosts[0].app_port,
        f.hosts[1].app_port
    );
    f.shop.env.write("hosts.yaml", &inventory);
    f.edit(|text| {
        let start = text.find("hosts:\n").unwrap();
        let end = text.find("ssh:").unwrap();
        format!("{}inventory: hosts.yaml\n{}", &text[..start], &text[end..])
    });
    let out = f.deploy("v1", false, &["--limit", "api"]);
    Run::of(&out).code(0);
    assert_eq!(f.current("web1"), "(none)");
    assert_eq!(f.version("web2"), "v1");
    let out = f.deploy("v1", false, &[]);
    Run::of(&out).code(0);
    assert_eq!(f.version("web1"), "v1");
}

#[test]
fn a_var_with_spaces_quotes_and_dollars_reaches_the_remote_command_as_one_argument() {
    let f = Fleet::new(1, 1, CANARY);
    f.edit(|text| {
        text.replace(
            "  start: [",
            "  start: [ \"printf '%s|' {{ note }} >{{ shared_dir }}/note\", ",
        )
    });
    let note = r#"it's a "big" day; $(touch /tmp/tend-pwned) `id` \ end"#;
    let out = f.deploy("v1", false, &["--var", &format!("note={note}")]);
    Run::of(&out).code(0);
    let got = std::fs::read_to_string(f.root("web1").join("shared/note")).unwrap();
    assert_eq!(got, format!("{note}|"));
}

#[test]
fn an_unknown_host_key_on_the_canary_stops_the_fleet_before_anything_changes() {
    let f = Fleet::new(2, 1, CANARY);
    f.shop.env.write("known_hosts", "");
    let out = f.deploy("v1", false, &[]);
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(
        err.contains(&format!(
            "ED25519 key fingerprint is {}",
            f.sshd[0].fingerprint
        )),
        "{err}"
    );
    assert!(
        !f.root("web1").exists() && !f.root("web2").exists(),
        "{err}"
    );
}

#[test]
fn rollback_takes_every_host_back_and_verifies_each() {
    let f = Fleet::new(2, 1, CANARY);
    Run::of(&f.deploy("v1", false, &[])).code(0);
    Run::of(&f.deploy("v2", false, &[])).code(0);
    let out = f
        .shop
        .env
        .tend()
        .args(["rollback", "shop.yaml", "--output", "plain"])
        .output()
        .unwrap();
    let err = stderr(&out);
    Run::of(&out).code(0);
    assert_eq!(
        f.picture(),
        "web1 releases/v1 v1 [v1=verified v2=rolled-back]\n\
         web2 releases/v1 v1 [v1=verified v2=rolled-back]"
    );
    assert!(err.contains("rolled back 2 hosts, each verified"), "{err}");
}

#[test]
fn a_second_run_on_a_host_is_refused_while_the_first_holds_its_lock() {
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate");
    let f = Fleet::with_vars(1, 1, CANARY, &[(0, &format!("gate: {}", gate.display()))]);
    let first = f.deploy_spawn("v1", false, &[]);
    crate::harness::wait_for("the migration", std::time::Duration::from_secs(30), || {
        gate.with_extension("waiting").exists()
    });
    // Another controller (its own state dir) deploying the same host.
    let out = f
        .shop
        .env
        .tend_spawnable()
        .env("TEND_STATE_DIR", dir.path().join("other-state"))
        .args([
            "deploy",
            "shop.yaml",
            "--output",
            "plain",
            "--var",
            "version=v1",
            "--var",
        ])
        .arg(format!(
            "sha={}",
            crate::harness::deploy::sha256(&f.shop.env.path("artifacts/shop-v1.tar.gz"))
        ))
        .output()
        .unwrap();
    std::fs::write(&gate, "").unwrap();
    let first = first.wait_with_output().unwrap();
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(err.contains("another run holds the lock of"), "{err}");
    assert!(err.contains("since"), "names the holder: {err}");
    Run::of(&first).code(0);
    assert_eq!(f.version("web1"), "v1");
}

#[test]
fn become_sudo_runs_the_steps_and_file_operations_through_sudo() {
    let f = Fleet::new(1, 1, CANARY);
    f.edit(|text| {
        text.replace("ssh: { known_hosts:", "ssh: { become: sudo, known_hosts:")
            .replace(
                "  start: [",
                "  start: [ \"echo ${SUDO_USER:-not-sudo} >{{ shared_dir }}/become\", ",
            )
    });
    let out = f.deploy("v1", false, &[]);
    let err = stderr(&out);
    if rustix::process::geteuid().is_root() {
        Run::of(&out).code(0);
        let by = std::fs::read_to_string(f.root("web1").join("shared/become")).unwrap();
        assert_eq!(by.trim(), "root", "the step ran under sudo");
        assert_eq!(f.version("web1"), "v1");
    } else {
        // Without a sudoers rule `sudo -n` refuses at once rather than prompting.
        Run::of(&out).code(1);
        assert!(err.contains("sudo"), "{err}");
    }
}

#[test]
fn an_encrypted_identity_is_opened_with_the_passphrase_from_the_playbook() {
    let f = Fleet::new(1, 1, CANARY);
    let key = f.shop.env.path("encrypted_key");
    std::fs::copy(&f.sshd[0].key, &key).unwrap();
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-p", "-N", "s3cret pass", "-f"])
        .arg(&key)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "ssh-keygen -p");
    f.edit(|text| {
        text.replace(
            &f.sshd[0].key.display().to_string(),
            &key.display().to_string(),
        )
        .replace(
            "ssh: { known_hosts:",
            "ssh: { passphrase: \"{{ key_pass }}\", known_hosts:",
        )
    });
    let out = f.deploy("v1", false, &["--var", "key_pass=wrong"]);
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(err.contains("authentication failed for user"), "{err}");
    assert!(
        !err.contains("wrong"),
        "the passphrase is not printed: {err}"
    );
    let out = f.deploy("v1", false, &["--var", "key_pass=s3cret pass"]);
    Run::of(&out).code(0);
    assert_eq!(f.version("web1"), "v1");
}

#[test]
fn fetch_on_hosts_downloads_and_checks_the_artifact_on_each_host() {
    let f = Fleet::new(2, 1, r#"{ batches: ["100%"] }"#);
    let files = crate::harness::http::FileServer::start(f.shop.env.path("artifacts"));
    let url = files.url("/shop-{{ version }}.tar.gz");
    f.edit(|text| {
        let start = text.find("    path: ").unwrap();
        let end = start + text[start..].find('\n').unwrap();
        format!(
            "{}    url: \"{url}\"\n    on: hosts{}",
            &text[..start],
            &text[end..]
        )
    });
    let out = f.deploy("v1", false, &[]);
    let err = stderr(&out);
    Run::of(&out).code(0);
    assert_eq!(
        *files.hits.lock().unwrap(),
        2,
        "each host downloaded it: {err}"
    );
    assert!(err.contains("each of 2 hosts downloads it"), "{err}");
    assert_eq!(
        f.picture(),
        "web1 releases/v1 v1 [v1=verified]\nweb2 releases/v1 v1 [v1=verified]"
    );
    assert!(
        !f.shop.env.state().join("cache").exists(),
        "nothing was downloaded here"
    );

    // The wrong build (a checksum for another artifact) is refused on the host, before any stop.
    let sha_v1 = crate::harness::deploy::sha256(&f.shop.env.path("artifacts/shop-v1.tar.gz"));
    f.shop.artifact("v2", false);
    let out = f
        .shop
        .env
        .tend()
        .args([
            "deploy",
            "shop.yaml",
            "--output",
            "plain",
            "--var",
            "version=v2",
            "--var",
        ])
        .arg(format!("sha={sha_v1}"))
        .output()
        .unwrap();
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(err.contains("nothing was stopped or changed"), "{err}");
    assert_eq!(f.version("web1"), "v1");
    assert!(!f.root("web1").join("releases/v2").exists());
}

#[test]
fn become_on_one_action_runs_only_that_action_through_sudo() {
    let f = Fleet::new(1, 1, CANARY);
    f.edit(|text| {
        text.replace(
            "  start: [",
            "  start: [ { run: \"echo ${SUDO_USER:-not-sudo} >{{ shared_dir }}/by-sudo\", become: sudo }, \"echo ${SUDO_USER:-not-sudo} >{{ shared_dir }}/by-user\", ",
        )
    });
    let out = f.deploy("v1", false, &[]);
    let read = |name: &str| {
        std::fs::read_to_string(f.root("web1").join("shared").join(name))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    if rustix::process::geteuid().is_root() {
        Run::of(&out).code(0);
        assert_eq!(read("by-sudo"), "root");
        assert_eq!(read("by-user"), "not-sudo");
    } else {
        Run::of(&out).code(1);
        assert_eq!(read("by-sudo"), "");
    }
}

/// Every file under `dir` (not following symlinks; `deep`: in subdirectories too) whose bytes
/// contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &str, deep: bool) -> Vec<std::path::PathBuf> {
    let mut found = vec![];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if deep {
                found.extend(files_containing(&path, needle, true));
            }
        } else if kind.is_file()
            && std::fs::read(&path)
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            found.push(path);
        }
    }
    found
}

const SUDO_PASSWORD: &str = "s3cret pa$$ 'w\"d";

/// The fleet as `tendsudo`, whose sudo wants its password every time; the password comes
/// from a secret file. The tempdir is opened up as a server's /srv would be.
fn fleet_as_sudo_user(password: &str) -> (Fleet, std::sync::MutexGuard<'static, bool>) {
    let user = crate::harness::sshd::sudo_user(SUDO_PASSWORD);
    let f = Fleet::new(1, 1, CANARY);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        f.shop.env.dir.path(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let secret = f.shop.env.write("sudo.secret", password);
    f.edit(|text| {
        text.replace(
            "ssh: { known_hosts:",
            &format!(
                "secrets:\n  sudo_password: {{ file: {} }}\nssh: {{ user: tendsudo, become_password: \"{{{{ sudo_password }}}}\", known_hosts:",
                secret.display()
            ),
        )
    });
    (f, user)
}

#[test]
fn become_with_a_password_from_secrets_runs_every_step_as_root() {
    let (f, _user) = fleet_as_sudo_user(SUDO_PASSWORD);
    f.edit(|text| {
        text.replace("ssh: { user:", "ssh: { become: sudo, user:")
            .replace(
                "  start: [",
                "  start: [ \"echo ${SUDO_USER:-not-sudo} $(id -un) >{{ shared_dir }}/become\", \"ls /tmp >{{ shared_dir }}/tmp-seen\", ",
            )
    });
    let before = askpass_scripts();
    let out = f.deploy("v1", false, &[]);
    let err = stderr(&out);
    Run::of(&out).code(0);
    assert_eq!(f.picture(), "web1 releases/v1 v1 [v1=verified]");
    let by = std::fs::read_to_string(f.root("web1").join("shared/become")).unwrap();
    assert_eq!(
        by.trim(),
        "tendsudo root",
        "logged in as tendsudo, ran as root"
    );
    use std::os::unix::fs::MetadataExt;
    let release = std::fs::metadata(f.root("web1").join("releases/v1")).unwrap();
    assert_eq!(release.uid(), 0, "file operations went through sudo too");
    assert!(!format!("{err}{}", stdout(&out)).contains("pa$$"), "{err}");
    let leaked = files_containing(f.shop.env.dir.path(), "pa$$", true);
    assert_eq!(
        leaked,
        vec![f.shop.env.path("sudo.secret")],
        "only the secret file"
    );
    // The askpass script the remote loop wrote is gone with the connection.
    let seen = std::fs::read_to_string(f.root("web1").join("shared/tmp-seen")).unwrap();
    assert!(seen.contains("tend-askpass."), "{seen}");
    crate::harness::wait_for(
        "the askpass script removed",
        std::time::Duration::from_secs(10),
        || askpass_scripts().difference(&before).next().is_none(),
    );
}

/// The askpass scripts `tendsudo`'s remote loops have left in /tmp (a run killed earlier
/// may have left one: the caller compares before and after).
fn askpass_scripts() -> std::collections::BTreeSet<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let uid = crate::harness::sshd::sudo_uid();
    std::fs::read_dir("/tmp")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("tend-askpass."))
        .filter(|e| e.metadata().is_ok_and(|m| m.uid() == uid))
        .map(|e| e.path())
        .collect()
}

/// An INI inventory's `ansible_become` and `ansible_become_password` (a template over the
/// playbook's secrets) reach its host: the steps run as root, logged in as tendsudo. The host's
/// vars are names in templates (`{{ from_inventory }}`) where the playbook's are not: its
/// `greeting` stays the playbook's, and the run says so, as it names the setting it ignores.
#[test]
fn an_ini_inventory_brings_become_and_its_vars_to_the_host() {
    let (f, _user) = fleet_as_sudo_user(SUDO_PASSWORD);
    let sshd = &f.sshd[0];
    f.shop.env.write(
        "hosts.ini",
        &format!(
            "[web]\nweb1 ansible_host=127.0.0.1 ansible_port={} ansible_ssh_private_key_file={} ansible_become=yes ansible_become_password=\"{{{{ sudo_password }}}}\" port={} from_inventory='hi there' greeting=inventory ansible_ssh_common_args='-o ProxyJump=x'\n",
            sshd.port,
            sshd.key.display(),
            f.hosts[0].app_port
        ),
    );
    f.edit(|text| {
        let start = text.find("hosts:\n").unwrap();
        let end = text.find("secrets:").unwrap();
        format!("{}inventory: hosts.ini\n{}", &text[..start], &text[end..])
            .replace("become_password: \"{{ sudo_password }}\", ", "")
            .replace(
                "  start: [",
                "  start: [ \"echo {{ from_inventory }} {{ greeting }} ${SUDO_USER:-not-sudo} $(id -un) >{{ shared_dir }}/seen\", ",
            )
    });
    let playbook = std::fs::read_to_string(f.shop.env.path("shop.yaml")).unwrap();
    assert!(!playbook.contains("become"), "{playbook}");
    let out = f.deploy("v1", false, &[]);
    let err = stderr(&out);
    Run::of(&out)
        .code(0)
        .stderr_has("inventory var 'greeting' (on web1) is also the playbook's")
        .stderr_has("ansible_ssh_common_args (on web1) is not used");
    let seen = std::fs::read_to_string(f.root("web1").join("shared/seen")).unwrap();
    assert_eq!(seen.trim(), "hi there hello tendsudo root");
    assert!(!format!("{err}{}", stdout(&out)).contains("pa$$"), "{err}");
    let leaked = files_containing(f.shop.env.dir.path(), "pa$$", true);
    assert_eq!(leaked, vec![f.shop.env.path("sudo.secret")]);
}

#[test]
fn one_action_becomes_root_with_the_password_while_the_rest_run_as_the_login_user() {
    let (f, _user) = fleet_as_sudo_user(SUDO_PASSWORD);
    // The login user owns its deploy root; only the one action needs root.
    std::fs::create_dir_all(f.root("web1")).unwrap();
    let ok = std::process::Command::new("chown")
        .args(["-R", "tendsudo"])
        .arg(f.shop.env.path("srv"))
        .status()
        .unwrap()
        .success();
    assert!(ok);
    f.edit(|text| {
        text.replace(
            "  start: [",
            "  start: [ { run: \"id -un >{{ shared_dir }}/by-sudo\", become: sudo }, \"id -un >{{ shared_dir }}/by-user\", ",
        )
    });
    let out = f.deploy("v1", false, &[]);
    Run::of(&out).code(0);
    let read = |name: &str| {
        std::fs::read_to_string(f.root("web1").join("shared").join(name))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(read("by-sudo"), "root");
    assert_eq!(read("by-user"), "tendsudo");
    assert_eq!(f.version("web1"), "v1");
}

#[test]
fn a_wrong_become_password_stops_the_host_before_anything_changes() {
    let (f, _user) = fleet_as_sudo_user("not the password");
    f.edit(|text| text.replace("ssh: { user:", "ssh: { become: sudo, user:"));
    let out = f.deploy("v1", false, &[]);
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(
        err.contains("sudo did not accept ssh.become_password for tendsudo"),
        "{err}"
    );
    assert!(!err.contains("not the password"), "{err}");
    assert_eq!(f.current("web1"), "(none)");
    assert!(!f.root("web1").exists(), "nothing was created on the host");
}

#[test]
fn an_empty_config_and_a_17_mb_one_arrive_whole_over_the_shell() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fleet::new(1, 1, CANARY);
    // Past 16 MiB a file is read off the shell by `head`, not one dd block.
    let big: String = (0..17 * 1024 * 1024 / 64)
        .map(|i| format!("{i:063}\n"))
        .collect();
    f.shop.env.write("big.conf.j2", &big);
    f.shop.env.write("empty.conf.j2", "");
    f.edit(|text| {
        text.replace(
            "  configure:\n",
            "  configure:\n    - { template: big.conf.j2, dest: shared/big.conf, mode: \"0750\" }\n    - { template: empty.conf.j2, dest: shared/empty.conf, mode: \"0600\" }\n",
        )
    });
    // A temp file left at the name tend writes through, planted as a symlink: replaced, never
    // followed.
    let shared = f.root("web1").join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let victim = f.shop.env.write("victim", "untouched");
    std::os::unix::fs::symlink(&victim, shared.join("empty.conf.partial")).unwrap();
    let out = f.deploy("v1", false, &[]);
    Run::of(&out).code(0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    let mode = |name: &str| {
        std::fs::symlink_metadata(shared.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("big.conf"), 0o750);
    assert_eq!(mode("empty.conf"), 0o600);
    assert_eq!(mode("app.conf"), 0o640);
    let got = std::fs::read(shared.join("big.conf")).unwrap();
    assert_eq!(got.len(), big.len());
    assert!(got == big.as_bytes(), "the big config arrived intact");
    assert_eq!(std::fs::read(shared.join("empty.conf")).unwrap(), b"");
    // The shell's framing survived: the rest of the deploy ran and verified.
    assert_eq!(f.picture(), "web1 releases/v1 v1 [v1=verified]");
}

#[test]
fn sigint_during_a_remote_step_stops_it_on_the_host_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate");
    let f = Fleet::with_vars(1, 1, CANARY, &[(0, &format!("gate: {}", gate.display()))]);
    std::fs::write(&gate, "").unwrap();
    Run::of(&f.deploy("v1", false, &[])).code(0);
    std::fs::remove_file(&gate).unwrap();
    let waiting = gate.with_extension("waiting");
    std::fs::remove_file(&waiting).unwrap();
    let child = f.deploy_spawn("v2", false, &[]);
    crate::harness::wait_for(
        "the remote migration",
        std::time::Duration::from_secs(30),
        || waiting.exists(),
    );
    let migrate = std::fs::read_to_string(&waiting)
        .unwrap()
        .trim()
        .to_string();
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    Run::of(&out).code(1);
    // Gone, or a zombie nobody reaps (a container has no init to do it).
    let state = std::fs::read_to_string(format!("/proc/{migrate}/status")).unwrap_or_default();
    assert!(
        state.is_empty() || state.contains("State:\tZ"),
        "the migration on the host was stopped: {state}\n{err}"
    );
    assert!(err.contains("interrupted"), "{err}");
    assert_eq!(f.picture(), "web1 releases/v1 v1 [v1=verified v2=failed]");
}

#[test]
fn a_host_refuses_a_config_link_and_a_bomb_is_refused_before_any_host_is_touched() {
    let f = Fleet::new(1, 1, CANARY);
    Run::of(&f.deploy("v1", false, &[])).code(0);
    // A link where the config goes, on the host.
    let conf = f.root("web1").join("shared/app.conf");
    let victim = f.shop.env.path("victim");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&victim, &text).unwrap();
    std::fs::remove_file(&conf).unwrap();
    std::os::unix::fs::symlink(&victim, &conf).unwrap();
    let out = f.deploy("v2", false, &[]);
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(
        err.contains(&format!("it is a symlink (to {})", victim.display())),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), text, "untouched");
    assert_eq!(f.picture(), "web1 releases/v1 v1 [v1=verified v2=failed]");
    std::fs::remove_file(&conf).unwrap();
    std::fs::write(&conf, &text).unwrap();

    // 3 MiB of zeros in a tar.gz of a few KiB: refused on the controller.
    let zeros = vec![0u8; 3 << 20];
    let sha = f.shop.artifact_from("v3", &[("big", &zeros[..], 0o644)]);
    let out = f.shop.deploy_sha("v3", &sha);
    let err = stderr(&out);
    Run::of(&out).code(1);
    assert!(
        err.contains("the artifact unpacks to more than 1.0 MiB"),
        "{err}"
    );
    assert!(err.contains("no host was touched"), "{err}");
    assert!(!f.root("web1").join("releases/v3").exists());
    assert!(!f.root("web1").join("releases/v3.partial").exists());
}

#[test]
fn a_host_root_is_judged_by_its_real_path_on_that_host() {
    let f = Fleet::new(
        3,
        1,
        r#"{ batches: ["100%"], max_failures: 2, on_failure: halt }"#,
    );
    f.edit(|t| t.replace("/{{ host.name }}\"", "/{{ host.name }}/app/../app2\""));
    let srv = f.shop.env.path("srv");
    std::fs::create_dir_all(&srv).unwrap();
    // web1 through a link to nowhere, inside a system tree; web2 through a link to one.
    let nowhere = format!("/usr/lib/tend-test-nowhere-{}", std::process::id());
    std::os::unix::fs::symlink(&nowhere, srv.join("web1")).unwrap();
    std::os::unix::fs::symlink("/usr/lib", srv.join("web2")).unwrap();
    // web3 through a link to a directory of its own: deployed there.
    let elsewhere = f.shop.env.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, srv.join("web3")).unwrap();
    let out = f.deploy("v1", false, &[]);
    let err = stderr(&out);
    Run::of(&out).code(1);
    for (host, real) in [
        ("web1", format!("{nowhere}/app2")),
        ("web2", "/usr/lib/app2".into()),
    ] {
        assert!(
            err.contains(&format!(
                "[{host}] failed  preflight: deploy root '{}/{host}/app/../app2' (it resolves to {real}) is a system directory; give the app one of its own, like /srv/app (",
                srv.display()
            )),
            "{host}: {err}"
        );
    }
    assert!(!std::path::Path::new(&nowhere).exists());
    assert!(!std::path::Path::new("/usr/lib/app2").exists());
    assert_eq!(
        std::fs::read_link(elsewhere.join("app2/current")).unwrap(),
        std::path::Path::new("releases/v1")
    );
}

#[test]
fn an_on_local_step_runs_on_the_controller_once_for_each_host() {
    let f = Fleet::new(2, 1, CANARY);
    let marks = f.shop.env.path("marks");
    std::fs::create_dir(&marks).unwrap();
    // Over SSH, sshd sets SSH_CONNECTION: the step fails there, and so would the deploy.
    f.edit(|text| {
        text.replace(
            "  start: [",
            &format!(
                "  start: [ {{ run: \"test -z \\\"$SSH_CONNECTION\\\" && echo {{{{ release }}}} > {}/{{{{ host.name }}}}\", on: local }}, ",
                marks.display()
            ),
        )
    });
    let out = f.deploy("v1", false, &[]);
    let err = stderr(&out);
    Run::of(&out).code(0);
    for host in ["web1", "web2"] {
        let mark = std::fs::read_to_string(marks.join(host)).unwrap();
        assert_eq!(mark, "v1\n", "{host}");
        assert_eq!(f.version(host), "v1");
    }
    assert!(
        err.lines()
            .any(|l| l.contains("web1") && l.contains("ok") && l.contains("[local]")),
        "the step says where it ran:\n{err}"
    );
    // The plan a reviewer approves says so too.
    let sha = f.shop.artifact("v1", false);
    let plan = f
        .shop
        .env
        .tend()
        .args([
            "plan",
            "shop.yaml",
            "--offline",
            "--output",
            "json",
            "--var",
        ])
        .arg(format!("sha={sha}"))
        .run();
    let doc: serde_json::Value = serde_json::from_str(&plan.code(0).stdout()).unwrap();
    let start = &doc["hosts"][0]["steps"][5];
    assert_eq!(start["on"], "local", "{start}");
    assert!(
        start["step"].as_str().unwrap().ends_with(" [local]"),
        "{start}"
    );
}

#[test]
fn plan_reads_each_host_and_shows_the_rollback_it_would_run_there() {
    let f = Fleet::new(2, 1, CANARY);
    f.edit(|text| {
        text.replace(
            "\"env BAD_VERSIONS=",
            "\"env FOR={{ release }} BAD_VERSIONS=",
        )
    });
    Run::of(&f.deploy("v1", false, &[])).code(0);
    Run::of(&f.deploy("v2", false, &["--limit", "web2"])).code(0);
    let sha = f.shop.artifact("v3", false);
    let plan = |extra: &[&str]| {
        let out = f
            .shop
            .env
            .tend()
            .args(["plan", "shop.yaml", "--var", "version=v3", "--var"])
            .arg(format!("sha={sha}"))
            .args(extra)
            .output()
            .unwrap();
        Run::of(&out).code(0);
        stdout(&out)
    };
    let text = plan(&[]);
    let section = |host: &str| {
        let at = text.find(&format!("\nrollback on {host} (")).expect(host);
        text[at + 1..].split("\n\n").next().unwrap().to_string()
    };
    // Each host goes back to its own last verified release, started as that release starts.
    let web1 = section("web1");
    assert!(web1.contains("), back to v1:\n"), "{web1}");
    assert!(web1.contains("start: env FOR=v1 BAD"), "{web1}");
    let web2 = section("web2");
    assert!(web2.contains("), back to v2:\n"), "{web2}");
    assert!(web2.contains("start: env FOR=v2 BAD"), "{web2}");
    assert!(text.contains("   6. start: env FOR=v3 BAD"), "{text}");
    let offline = plan(&["--offline"]);
    assert!(
        offline.contains("back to its last verified release, read at deploy time:\n"),
        "{offline}"
    );
    let json = plan(&["--output", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["hosts"][0]["rollback"]["to"], "v1");
    assert_eq!(doc["hosts"][1]["rollback"]["to"], "v2");
    assert_eq!(doc["hosts"][1]["current"], "v2 (verified)");
}

#[test]
fn plan_of_a_fleet_offline_reads_as_a_reviewer_approves_it() {
    let f = Fleet::new(2, 1, CANARY);
    let sha = f.shop.artifact("v1", false);
    let run = f
        .shop
        .env
        .tend()
        .args(["plan", "shop.yaml", "--offline", "--var"])
        .arg(format!("sha={sha}"))
        .run();
    run.code(0);
    let text = run
        .stdout()
        .replace(&f.shop.env.dir.path().display().to_string(), "DIR")
        .replace(&f.sshd[0].port.to_string(), "SSH")
        .replace(&f.hosts[0].app_port.to_string(), "PORT1")
        .replace(&f.hosts[1].app_port.to_string(), "PORT2")
        .replace(&sha[..12], "SHA");
    assert_eq!(
        text,
        r#"deploy v1 to 2 hosts in 2 batches (a batch is deployed and verified before the next starts)
  batch 1:
    web1 (127.0.0.1:SSH)  root DIR/srv/web1
  batch 2:
    web2 (127.0.0.1:SSH)  root DIR/srv/web2

steps on web1:
   1. fetch v1: DIR/artifacts/shop-v1.tar.gz (sha256 SHA) → releases/v1, checked before anything is stopped
   2. stop: bin/stop
   3. migrate: env GATE_MIGRATE='' bin/migrate up catalog_v1 (down: bin/migrate down catalog_v1)
   4. configure DIR/srv/web1/shared/app.conf from app.conf.j2 (mode 0640, previous file kept)
   5. switch current → v1
   6. start: env BAD_VERSIONS='' bin/start
   7. verify http://127.0.0.1:PORT1/health (30 retries every 100ms)
   8. prune old releases (keep_releases: 3)

steps on web2:
   1. fetch v1: DIR/artifacts/shop-v1.tar.gz (sha256 SHA) → releases/v1, checked before anything is stopped
   2. stop: bin/stop
   3. migrate: env GATE_MIGRATE='' bin/migrate up catalog_v1 (down: bin/migrate down catalog_v1)
   4. configure DIR/srv/web2/shared/app.conf from app.conf.j2 (mode 0640, previous file kept)
   5. switch current → v1
   6. start: env BAD_VERSIONS='' bin/start
   7. verify http://127.0.0.1:PORT2/health (30 retries every 100ms)
   8. prune old releases (keep_releases: 3)

if more than 0 host(s) of a batch fail: every host switched in this run goes back to its own last verified release, and is verified

rollback on web1 (127.0.0.1:SSH), back to its last verified release, read at deploy time:
   1. rollback: stop: bin/stop
   2. rollback: down: bin/migrate down catalog_v1
   3. rollback: restore the config files configure replaced
   4. rollback: switch current → the host's last verified release
   5. rollback: start: env BAD_VERSIONS='' bin/start
   6. rollback: verify http://127.0.0.1:PORT1/health (30 retries every 100ms)

rollback on web2 (127.0.0.1:SSH), back to its last verified release, read at deploy time:
   1. rollback: stop: bin/stop
   2. rollback: down: bin/migrate down catalog_v1
   3. rollback: restore the config files configure replaced
   4. rollback: switch current → the host's last verified release
   5. rollback: start: env BAD_VERSIONS='' bin/start
   6. rollback: verify http://127.0.0.1:PORT2/health (30 retries every 100ms)
"#
    );
}

/// Each host's `step` as (started, finished) positions in the run's JSON events, by host.
fn spans(events: &str, step: &str) -> std::collections::BTreeMap<String, (usize, usize)> {
    let mut spans = std::collections::BTreeMap::new();
    for (n, line) in events.lines().enumerate() {
        let Ok(e) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if e["step"] != step {
            continue;
        }
        let host = e["host"].as_str().unwrap_or_default().to_string();
        let span = spans.entry(host).or_insert((usize::MAX, usize::MAX));
        match e["event"].as_str() {
            Some("step_started") => span.0 = n,
            Some("step_finished") => span.1 = n,
            _ => {}
        }
    }
    spans
}

/// `2026-12-02T04:25:28.735Z` as milliseconds since the epoch.
fn chrono_ms(ts: &str) -> u64 {
    let (date, time) = ts.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, ms) = time.split_once('.').unwrap();
    let t: Vec<u64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    // Days since the epoch (Howard Hinnant's days_from_civil).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe - 719_468) as u64;
    ((days * 24 + t[0]) * 60 + t[1]) * 60_000 + t[2] * 1000 + ms.parse::<u64>().unwrap()
}

/// The JSON event that ended `host`'s `step`.
fn finished(events: &str, host: &str, step: &str) -> serde_json::Value {
    events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["host"] == host && e["step"] == step && e["event"] == "step_finished")
        .unwrap_or_else(|| panic!("no end of {step} on {host}"))
}

/// An sshd_config line that has every session of that sshd run `script` (a `#!/bin/sh` body,
/// the session's command in `$SSH_ORIGINAL_COMMAND`) instead, written into `dir`.
fn force_command(dir: &std::path::Path, name: &str, script: &str) -> String {
    let wrapper = dir.join(name);
    std::fs::write(&wrapper, format!("#!/bin/sh\n{script}")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("ForceCommand {}\n", wrapper.display())
}

/// A login whose shell takes a second to start and half a second to end, as on a loaded host:
/// a phase done one host after another would take that once per host.
fn slow_shell(dir: &std::path::Path) -> String {
    force_command(
        dir,
        "slow-sh",
        "sleep 1\n/bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\nstatus=$?\nsleep 0.5\nexit $status\n",
    )
}

/// `cmd` started with at most `soft` open files, and `hard` as its hard limit when given.
fn open_files(cmd: &mut std::process::Command, soft: u64, hard: Option<u64>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getrlimit(2) and setrlimit(2) are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
            lim.rlim_cur = soft;
            lim.rlim_max = hard.unwrap_or(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            Ok(())
        });
    }
}

#[test]
fn every_host_is_preflighted_at_once_not_one_after_another_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    let slow = slow_shell(dir.path());
    let f = Fleet::with_sshd_config(4, &[&slow], r#"{ batches: ["100%"] }"#);
    let out = f.deploy("v1", false, &["--output", "json", "--forks", "4"]);
    Run::of(&out).code(0);
    let events = stderr(&out);
    // The close is shown per host below; its time here is milliseconds, too short to tell
    // one host after another from all at once on a loaded machine.
    let (step, least) = ("preflight", 1000);
    // Each host's phase, as its end and its own time (ms since the epoch).
    let took: Vec<(u64, u64)> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["step"] == step && e["event"] == "step_finished")
        .map(|e| {
            let ts = e["ts"].as_str().unwrap();
            let end = chrono_ms(ts);
            (end, e["elapsed_ms"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(took.len(), 4, "{step} on every host");
    // Each host's really was slow...
    assert!(took.iter().all(|(_, ms)| *ms >= least), "{step}: {took:?}");
    // ...and the phase over all four took well under their sum: they overlapped (one host
    // after another, it would take at least the sum).
    let first = took.iter().map(|(end, ms)| end - ms).min().unwrap();
    let last = took.iter().map(|(end, _)| *end).max().unwrap();
    let sum: u64 = took.iter().map(|(_, ms)| ms).sum();
    assert!(
        (last - first) * 4 < sum * 3,
        "{step} ran one host at a time: {} ms for {took:?}",
        last - first
    );
    // Nothing of any host changed before every host was ready: its first step after the
    // pre-flight began after the last pre-flight ended.
    let last_ready = spans(&events, "preflight")
        .values()
        .map(|s| s.1)
        .max()
        .unwrap();
    let first_change = events
        .lines()
        .position(|l| {
            let e: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
            e["event"] == "step_started"
                && e["host"].is_string()
                && !["connect", "preflight", "close"].contains(&e["step"].as_str().unwrap_or(""))
        })
        .unwrap();
    assert!(
        last_ready < first_change,
        "a host changed before all were ready"
    );
    let said = |step: &str| finished(&events, "web2", step)["message"].clone();
    assert_eq!(said("preflight"), "locked, 0 releases in its journal");
    for host in ["web1", "web2", "web3", "web4"] {
        assert_eq!(
            finished(&events, host, "close")["message"],
            "lock released, disconnected"
        );
    }
    assert_eq!(
        f.picture(),
        "web1 releases/v1 v1 [v1=verified]\n\
         web2 releases/v1 v1 [v1=verified]\n\
         web3 releases/v1 v1 [v1=verified]\n\
         web4 releases/v1 v1 [v1=verified]"
    );
}

#[test]
fn a_host_hanging_in_preflight_fails_at_its_deadline_and_the_others_deploy() {
    let dir = tempfile::tempdir().unwrap();
    let hanging = force_command(dir.path(), "hang-sh", "exec sleep 600\n");
    // web2 alone on the sshd whose sessions never answer.
    let f = Fleet::with_sshd_config(
        3,
        &["", &hanging, ""],
        r#"{ batches: ["100%"], max_failures: 1 }"#,
    );
    f.ssh_setting("preflight_timeout: 2s");
    let out = f.deploy("v1", false, &["--output", "json"]);
    Run::of(&out).code(1);
    let events = stderr(&out);
    let failed = finished(&events, "web2", "preflight");
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("no answer within the preflight's 2s (ssh.preflight_timeout)"),
        "{failed}"
    );
    // Its deadline, not a request's two-minute limit, ended it.
    let took = failed["elapsed_ms"].as_u64().unwrap();
    assert!((2000..60_000).contains(&took), "{took} ms");
    assert_eq!(
        f.picture(),
        format!(
            "web1 releases/v1 v1 [v1=verified]\n\
             web2 (none) {} []\n\
             web3 releases/v1 v1 [v1=verified]",
            f.version("web2")
        )
    );

    // Without room for a failure, the batch stops there: nobody in it is changed.
    f.edit(|t| t.replace("max_failures: 1", "max_failures: 0"));
    let out = f.deploy("v2", false, &[]);
    Run::of(&out)
        .code(1)
        .stderr_has("batch 1/1: 1 of 3 hosts could not be reached or prepared (web2; max_failures 0), so none of the batch was changed");
    assert_eq!(f.current("web1"), "releases/v1");
    assert_eq!(f.current("web3"), "releases/v1");
}

#[test]
fn a_fleet_bigger_than_the_open_files_soft_limit_still_reaches_every_host() {
    let f = Fleet::new(24, 1, CANARY);
    let mut cmd = f.shop.env.tend_spawnable();
    cmd.args(["releases", "shop.yaml", "--forks", "24"]);
    // The soft limit of a login shell's 1,024 scaled to this fleet: 24 connections need 48
    // descriptors, and tend starts with 40.
    open_files(&mut cmd, 40, None);
    let out = cmd.spawn().unwrap().wait_with_output().unwrap();
    // Nothing deployed yet: each host reached and read, none refused a descriptor.
    let table = stdout(&out);
    for i in 1..=24 {
        assert!(
            table.contains(&format!("cannot read web{i}: nothing was deployed under")),
            "{table}"
        );
    }
    Run::of(&out).code(1).stderr_lacks("open files");

    // A hard limit that low too: said before any host is tried, with what to do.
    let mut cmd = f.shop.env.tend_spawnable();
    cmd.args(["releases", "shop.yaml", "--forks", "24"]);
    open_files(&mut cmd, 40, Some(40));
    let out = cmd.spawn().unwrap().wait_with_output().unwrap();
    Run::of(&out).code(1).stderr_has(
        "24 hosts connected at once need about 80 open files and this process may have 40 (ulimit -Hn): hosts past that fail to connect",
    );
}

#[test]
fn sigint_during_the_preflight_stops_it_at_once_and_changes_no_host() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("asked");
    let hanging = force_command(
        dir.path(),
        "hang-sh",
        &format!("touch {}\nexec sleep 600\n", mark.display()),
    );
    let f = Fleet::with_sshd_config(2, &["", &hanging], r#"{ batches: ["100%"] }"#);
    let child = f.deploy_spawn("v1", false, &["--output", "json"]);
    crate::harness::wait_for(
        "web2's shell to be asked for",
        std::time::Duration::from_secs(30),
        || mark.exists(),
    );
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run::of(&out).code(1);
    let events = stderr(&out);
    let web2 = finished(&events, "web2", "preflight");
    assert_eq!(web2["status"], "failed");
    assert!(
        web2["message"]
            .as_str()
            .unwrap()
            .contains("interrupted by a signal"),
        "{web2}"
    );
    // The signal, not the minute of the preflight's deadline, ended it.
    assert!(web2["elapsed_ms"].as_u64().unwrap() < 30_000, "{web2}");
    assert_eq!(f.current("web1"), "(none)");
    assert!(
        !f.root("web1").join("releases").exists(),
        "web1 was changed"
    );
}

#[test]
fn a_host_stuck_in_its_preflight_is_freed_so_the_next_run_gets_its_lock() {
    let f = Fleet::new(2, 1, r#"{ batches: ["100%"], max_failures: 1 }"#);
    Run::of(&f.deploy("v1", false, &[])).code(0);
    // web2's journal read hangs: a FIFO no one writes, as on a hung disk.
    let journal = f.root("web2").join(".tend/releases.json");
    let kept = std::fs::read(&journal).unwrap();
    std::fs::remove_file(&journal).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&journal)
        .status()
        .unwrap();
    assert!(made.success());
    f.ssh_setting("preflight_timeout: 2s");
    let out = f.deploy("v2", false, &["--output", "json"]);
    Run::of(&out).code(1);
    let events = stderr(&out);
    assert_eq!(finished(&events, "web2", "preflight")["status"], "failed");
    assert_eq!(f.current("web1"), "releases/v2");
    // The disk is back: the next run takes web2's lock, no run of the past holds it. (The
    // reader left waiting on the FIFO is let go first: a writer that opens and closes it.)
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&journal);
    std::fs::remove_file(&journal).unwrap();
    std::fs::write(&journal, kept).unwrap();
    let out = f.deploy("v2", false, &[]);
    Run::of(&out)
        .code(0)
        .stderr_lacks("another run holds the lock");
    assert_eq!(f.current("web2"), "releases/v2");
}

#[test]
fn a_zero_timeout_is_refused_before_any_host_is_tried() {
    let f = Fleet::new(1, 1, CANARY);
    f.ssh_setting("preflight_timeout: 0s");
    let out = f
        .shop
        .env
        .tend()
        .args(["validate", "shop.yaml"])
        .output()
        .unwrap();
    Run::of(&out)
        .code(64)
        .stderr_has(" --> shop.yaml:8:27")
        .stderr_has("a timeout of 0 fails every host before it is tried");
}
