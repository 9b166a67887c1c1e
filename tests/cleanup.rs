//! `tend cleanup`: compress, archive and expire files, and never lose a byte doing it.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::harness::{Env, stderr, stdout};

const DAY: u64 = 86_400;

/// Write a compressible log file aged `days`.
fn log(path: &Path, lines: usize, days: u64) -> Vec<u8> {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text = String::new();
    for i in 0..lines {
        text += &format!(
            "2026-11-20T10:{:02}:{:02}Z INFO request {i} served in {}ms path=/api/v1/orders\n",
            i % 60,
            i % 60,
            i % 97
        );
    }
    std::fs::write(path, &text).unwrap();
    age(path, days * DAY);
    text.into_bytes()
}

use crate::harness::aged as age;

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = vec![];
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn gz(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.gz", path.display()))
}

/// name -> content of every entry of a tar.gz.
fn untar(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(path).unwrap(),
    ));
    let mut out = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut data = vec![];
        e.read_to_end(&mut data).unwrap();
        out.insert(name, data);
    }
    out
}

/// `tend cleanup --output plain PLAYBOOK`, run to the end.
fn cleanup(env: &Env, playbook: &Path) -> std::process::Output {
    env.tend()
        .args(["cleanup", "--output", "plain"])
        .arg(playbook)
        .output()
        .unwrap()
}

fn compress_playbook(dir: &Path, extra: &str) -> String {
    format!(
        "kind: cleanup\nrules:\n  - name: compress old logs\n    path: {}\n    match: [\"*.log\", \"*.log.[0-9]*\"]\n    exclude: [\"current.log\"]\n    older_than: 1d\n    action: compress\n{extra}",
        dir.display()
    )
}

#[test]
fn compresses_old_logs_keeping_mode_owner_and_mtime() {
    let env = Env::new();
    let logs = env.path("logs");
    let old = log(&logs.join("app.log"), 5000, 3);
    let rotated = log(&logs.join("app.log.1"), 3000, 2);
    log(&logs.join("current.log"), 10, 3);
    log(&logs.join("fresh.log"), 10, 0);
    std::fs::set_permissions(logs.join("app.log"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let before = std::fs::metadata(logs.join("app.log")).unwrap();
    let p = env.write("c.yaml", &compress_playbook(&logs, ""));

    let out = cleanup(&env, &p);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("compressed 2 files"),
        "{}",
        stderr(&out)
    );
    assert!(!logs.join("app.log").exists() && !logs.join("app.log.1").exists());
    assert_eq!(gunzip(&gz(&logs.join("app.log"))), old);
    assert_eq!(gunzip(&gz(&logs.join("app.log.1"))), rotated);
    let after = std::fs::metadata(gz(&logs.join("app.log"))).unwrap();
    assert_eq!(after.mode() & 0o7777, 0o640);
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    assert_eq!(after.mtime(), before.mtime());
    assert!(
        logs.join("current.log").exists() && logs.join("fresh.log").exists(),
        "excluded and fresh logs stay"
    );
    // The gzip stream is what gzip -d reads.
    let status = std::process::Command::new("gzip")
        .arg("-t")
        .arg(gz(&logs.join("app.log")))
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn dry_run_lists_every_action_and_touches_nothing() {
    let env = Env::new();
    let logs = env.path("logs");
    log(&logs.join("a.log"), 2000, 3);
    log(&logs.join("b.log"), 2000, 3);
    let p = env.write("c.yaml", &compress_playbook(&logs, ""));
    let out = env
        .tend()
        .args(["cleanup", "--dry-run", "--output", "plain"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("would compress {}/a.log (", logs.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("would compress {}/b.log (", logs.display())),
        "{err}"
    );
    let names: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "nothing written: {names:?}");
    // `tend plan` on a cleanup playbook lists the dry run's actions on stdout, and records no run.
    let plan = env.tend().arg("plan").arg(&p).output().unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    let shown = stdout(&plan);
    for line in err.lines().filter(|l| l.contains("would compress")) {
        // The same actions, give or take the line's time stamp and the step's time.
        let action = &line[line.find("would compress").unwrap()..];
        let action = action.split(" (").next().unwrap();
        assert!(shown.contains(action), "{action:?} not in:\n{shown}");
    }
    let history = env
        .tend()
        .args(["history", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&history.stdout)
            .matches("\"kind\":\"cleanup\"")
            .count(),
        0,
        "neither the dry run nor the plan is recorded"
    );
    let names: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "nothing written: {names:?}");
    // What it says it would reclaim is what the real run reclaims, not the files' whole size.
    let (before, estimate) = sizes(&err, "would compress 2 files, ", " → about ");
    let out = cleanup(&env, &p);
    let (real_before, after) = sizes(&stderr(&out), "compressed 2 files, ", " → ");
    assert_eq!(before, real_before);
    assert!(after < before / 4, "{after} of {before}");
    assert!(
        estimate.abs_diff(after) <= after / 10,
        "estimated {estimate}, took {after}"
    );
}

/// The two sizes of `{lead}X{sep}Y` in `text`, in bytes.
fn sizes(text: &str, lead: &str, sep: &str) -> (u64, u64) {
    let at = text
        .find(lead)
        .unwrap_or_else(|| panic!("{lead:?} not in {text}"))
        + lead.len();
    let rest = &text[at..];
    let (a, rest) = rest.split_once(sep).unwrap();
    let b: String = rest
        .chars()
        .take_while(|c| !matches!(c, '\n' | ';' | '('))
        .collect();
    (bytes(a), bytes(&b))
}

fn bytes(size: &str) -> u64 {
    let (n, unit) = size.trim().split_once(' ').unwrap_or((size.trim(), "B"));
    let n: f64 = n.parse().unwrap_or_else(|_| panic!("not a size: {size:?}"));
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        other => panic!("unit {other:?}"),
    };
    (n * scale) as u64
}

#[test]
fn archives_by_day_and_never_overwrites_an_archive() {
    let env = Env::new();
    let logs = env.path("logs");
    let dest = env.path("archive");
    let a = log(&logs.join("a.log.gz"), 100, 10);
    let b = log(&logs.join("sub/b.log.gz"), 100, 10);
    let c = log(&logs.join("c.log.gz"), 100, 12);
    log(&logs.join("new.log.gz"), 100, 1);
    let p = env.write(
        "a.yaml",
        &format!(
            "kind: cleanup\nrules:\n  - path: {}\n    match: [\"*.gz\"]\n    older_than: 7d\n    action: archive\n    archive: {{ dest: {}, name: \"app-{{{{ date }}}}.tar.gz\", group_by: day }}\n",
            logs.display(),
            dest.display()
        ),
    );
    env.tend().arg("cleanup").arg(&p).assert().code(0);
    let mut archives: Vec<PathBuf> = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    archives.sort();
    assert_eq!(archives.len(), 2, "{archives:?}");
    let older = untar(&archives[0]);
    let newer = untar(&archives[1]);
    assert_eq!(older.get("c.log.gz"), Some(&c));
    assert_eq!(newer.get("a.log.gz"), Some(&a));
    assert_eq!(
        newer.get("sub/b.log.gz"),
        Some(&b),
        "entries are relative to the rule's path"
    );
    assert!(
        !logs.join("a.log.gz").exists()
            && !logs.join("sub/b.log.gz").exists()
            && !logs.join("c.log.gz").exists()
    );
    assert!(logs.join("new.log.gz").exists());

    // Another file of the same day: a new part, the first archive untouched.
    let first = std::fs::read(&archives[1]).unwrap();
    let d = log(&logs.join("d.log.gz"), 100, 10);
    std::fs::File::options()
        .write(true)
        .open(logs.join("d.log.gz"))
        .unwrap()
        .set_modified(
            std::fs::metadata(&archives[1])
                .map(|_| SystemTime::now() - Duration::from_secs(10 * DAY))
                .unwrap(),
        )
        .unwrap();
    env.tend().arg("cleanup").arg(&p).assert().code(0);
    assert_eq!(
        std::fs::read(&archives[1]).unwrap(),
        first,
        "an existing archive is never overwritten"
    );
    let part2 = archives[1]
        .display()
        .to_string()
        .replace(".tar.gz", ".part2.tar.gz");
    assert_eq!(untar(Path::new(&part2)).get("d.log.gz"), Some(&d));
}

#[test]
fn delete_keeps_the_newest() {
    let env = Env::new();
    let dir = env.path("archive");
    for i in 0..10 {
        log(&dir.join(format!("app-{i}.tar.gz")), 1, 100 + 10 - i as u64);
    }
    let p = env.write(
        "d.yaml",
        &format!("kind: cleanup\nrules:\n  - path: {}\n    match: [\"*.tar.gz\"]\n    older_than: 90d\n    keep_newest: 3\n    action: delete\n", dir.display()),
    );
    let out = cleanup(&env, &p);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("deleted 7 files, reclaimed"),
        "{}",
        stderr(&out)
    );
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["app-7.tar.gz", "app-8.tar.gz", "app-9.tar.gz"]);
}

#[test]
fn symlinks_are_never_followed_and_hard_links_compressed_once() {
    let env = Env::new();
    let logs = env.path("logs");
    let outside = env.path("outside");
    log(&outside.join("precious.log"), 100, 5);
    log(&logs.join("app.log"), 100, 5);
    std::os::unix::fs::symlink(&outside, logs.join("link-to-outside")).unwrap();
    std::os::unix::fs::symlink(outside.join("precious.log"), logs.join("link.log")).unwrap();
    let data = log(&logs.join("a.log"), 500, 5);
    std::fs::hard_link(logs.join("a.log"), logs.join("b.log")).unwrap();
    let p = env.write("c.yaml", &compress_playbook(&logs, ""));
    env.tend().arg("cleanup").arg(&p).assert().code(0);
    assert!(outside.join("precious.log").exists() && !gz(&outside.join("precious.log")).exists());
    assert!(
        std::fs::symlink_metadata(logs.join("link.log"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let gzs: Vec<_> = ["a.log.gz", "b.log.gz"]
        .iter()
        .filter(|n| logs.join(n).exists())
        .collect();
    assert_eq!(gzs.len(), 1, "one compressed copy of the hard-linked data");
    assert_eq!(gunzip(&logs.join(gzs[0])), data);
    assert!(!logs.join("a.log").exists() && !logs.join("b.log").exists());
}

#[test]
fn system_roots_missing_paths_and_escaping_archive_names_are_refused() {
    let env = Env::new();
    for (path, expect) in [
        ("/", "is a system root"),
        ("/etc", "is a system root"),
        ("/usr/share", "is inside /usr"),
        ("/no/such/dir", "no such file or directory"),
        ("logs", "must be absolute"),
    ] {
        let p = env.write(
            "r.yaml",
            &format!(
                "kind: cleanup\nrules:\n  - path: {path}\n    match: [\"*\"]\n    action: delete\n"
            ),
        );
        let out = env
            .tend()
            .args(["validate", "--strict-host"])
            .arg(&p)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{path}");
        let err = stderr(&out);
        assert!(
            err.contains(expect) && err.contains("r.yaml:3:11"),
            "{path}: {err}"
        );
    }
    // A directory missing here may exist where the playbook is meant to run: validate warns,
    // a run refuses.
    let p = env.write(
        "m.yaml",
        "kind: cleanup\nrules:\n  - path: /no/such/dir\n    match: [\"*\"]\n    action: delete\n",
    );
    let out = env.tend().arg("validate").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "m.yaml:3:11: path '/no/such/dir': no such file or directory (on this machine"
        ),
        "{}",
        stderr(&out)
    );
    let out = cleanup(&env, &p);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    std::fs::create_dir_all(env.path("logs")).unwrap();
    let p = env.write(
        "e.yaml",
        &format!(
            "kind: cleanup\nrules:\n  - path: {}\n    match: [\"*.gz\"]\n    action: archive\n    archive: {{ dest: /tmp, name: \"../../etc/{{{{ date }}}}.tar.gz\" }}\n",
            env.path("logs").display()
        ),
    );
    let out = env.tend().arg("validate").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("must be a plain file name"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_file_being_written_is_left_alone() {
    let env = Env::new();
    let logs = env.path("logs");
    log(&logs.join("busy.log"), 200_000, 3);
    let p = env.write(
        "c.yaml",
        &format!("kind: cleanup\nrules:\n  - path: {}\n    match: [\"busy.log\"]\n    action: compress\n    level: 9\n", logs.display()),
    );
    let file = logs.join("busy.log");
    let mut writer = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("while :; do echo more >> {}; done", file.display()))
        .spawn()
        .unwrap();
    let out = cleanup(&env, &p);
    writer.kill().unwrap();
    let _ = writer.wait();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Caught when it is opened (written since the walk chose it) or after it was read.
    let err = stderr(&out);
    assert!(
        err.contains("changed since it was selected: left alone")
            || err.contains("changed while being compressed"),
        "{err}"
    );
    assert!(file.exists() && !gz(&file).exists());
    assert!(!PathBuf::from(format!("{}.gz.partial", file.display())).exists());
}

#[test]
fn permission_denied_on_one_file_and_the_rest_go_on() {
    let env = Env::new();
    let logs = env.path("logs");
    log(&logs.join("a.log"), 100, 3);
    log(&logs.join("secret.log"), 100, 3);
    let state = env.path("nobody-state");
    std::fs::create_dir_all(&state).unwrap();
    for p in [env.dir.path(), logs.as_path(), state.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::os::unix::fs::chown(logs.join("a.log"), Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(
        logs.join("secret.log"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let p = env.write("c.yaml", &compress_playbook(&logs, ""));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let as_nobody = |dry_run: bool| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin("tend"))
            .args(["cleanup", "--output", "plain"])
            .args(dry_run.then_some("--dry-run"))
            .arg(&p)
            .env("TEND_STATE_DIR", &state)
            .output()
            .unwrap()
    };
    // The dry run names the file the real run could not read.
    let out = as_nobody(true);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("secret.log: cannot be read: permission denied"),
        "{}",
        stderr(&out)
    );
    let out = as_nobody(false);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("secret.log: permission denied"), "{err}");
    assert!(logs.join("secret.log").exists());
    assert!(
        gz(&logs.join("a.log")).exists() && !logs.join("a.log").exists(),
        "the readable file was compressed"
    );
}

/// A tmpfs of `size`, mounted for one test and gone with it.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: PathBuf, size: &str) -> Tmpfs {
        std::fs::create_dir_all(&at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .status();
        assert!(
            ok.is_ok_and(|s| s.success()),
            "these tests mount a tmpfs: run them as root (CI does)"
        );
        Tmpfs(at)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fill `dir` with `n` files of `size` bytes of noise, oldest first.
fn fill(dir: &Path, n: usize, size: usize) {
    for i in 0..n {
        let mut data = vec![0u8; size];
        let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for b in &mut data {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let p = dir.join(format!("old-{i:02}.tar.gz"));
        std::fs::write(&p, data).unwrap();
        age(&p, (100 - i as u64) * DAY);
    }
}

#[test]
fn free_space_deletes_the_oldest_expendable_files_until_below_target() {
    let env = Env::new();
    let mnt = Tmpfs::mount(env.path("mnt"), "10m");
    fill(&mnt.0, 9, 1 << 20);
    let p = env.write(
        "f.yaml",
        &format!(
            "kind: cleanup\nrules:\n  - path: {0}\n    match: [\"*.tar.gz\"]\n    older_than: 1000d\n    action: delete\n    expendable: true\nfree_space: {{ mount: {0}, max_used_percent: 50 }}\n",
            mnt.0.display()
        ),
    );
    let out = cleanup(&env, &p);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut left: Vec<String> = std::fs::read_dir(&mnt.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    // 9 MiB of 10 MiB used, target 50 %: the 4 oldest go, and no more.
    assert_eq!(
        left,
        [
            "old-04.tar.gz",
            "old-05.tar.gz",
            "old-06.tar.gz",
            "old-07.tar.gz",
            "old-08.tar.gz"
        ],
        "the oldest went first, and only as many as needed"
    );
    // What the free-space step deleted counts in the run's last line.
    assert!(
        stderr(&out).contains("cleanup acted on 4 files, 4.0 MiB reclaimed"),
        "{}",
        stderr(&out)
    );

    // A target the expendable files cannot reach is reported, and the run fails.
    std::fs::write(
        &p,
        std::fs::read_to_string(&p)
            .unwrap()
            .replace("max_used_percent: 50", "max_used_percent: 0"),
    )
    .unwrap();
    std::fs::write(mnt.0.join("keep.bin"), vec![1u8; 1 << 20]).unwrap();
    let out = cleanup(&env, &p);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the target cannot be reached"),
        "{}",
        stderr(&out)
    );
    assert!(mnt.0.join("keep.bin").exists());
}

#[test]
fn not_enough_space_for_the_compressed_copy_is_detected_before_writing() {
    let env = Env::new();
    // About 200 KiB free beside a 2.9 MB log: its gzip needs more than that.
    let mnt = Tmpfs::mount(env.path("mnt"), "3100k");
    let data = log(&mnt.0.join("big.log"), 40_000, 3);
    assert!(data.len() > 2_900_000, "{}", data.len());
    let p = env.write("c.yaml", &compress_playbook(&mnt.0, ""));
    let out = cleanup(&env, &p);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not enough free space to write the compressed copy"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(mnt.0.join("big.log")).unwrap(), data);
    assert_eq!(
        std::fs::read_dir(&mnt.0).unwrap().count(),
        1,
        "no partial file left"
    );
}

#[test]
fn a_rule_never_crosses_into_another_filesystem() {
    let env = Env::new();
    let logs = env.path("logs");
    log(&logs.join("a.log"), 100, 3);
    let inner = Tmpfs::mount(logs.join("mounted"), "1m");
    log(&inner.0.join("other.log"), 100, 3);
    let p = env.write("c.yaml", &compress_playbook(&logs, ""));
    env.tend().arg("cleanup").arg(&p).assert().code(0);
    assert!(gz(&logs.join("a.log")).exists());
    assert!(inner.0.join("other.log").exists() && !gz(&inner.0.join("other.log")).exists());
}

#[test]
fn kill_9_while_it_compresses_then_the_next_run_finishes_and_exits_0() {
    let env = Env::new();
    let logs = env.path("logs");
    let dest = env.path("archive");
    let mut originals = BTreeMap::new();
    for i in 0..160 {
        let name = format!("svc{i:03}.log");
        // Two days' worth of logs, so both rules have work: compress, then archive the .gz.
        let data = log(&logs.join(&name), 1_500 + i * 10, 8 + (i as u64 % 2));
        originals.insert(name, sha(&data));
    }
    let p = env.write(
        "k.yaml",
        &format!(
            "{}  - name: archive\n    path: {}\n    match: [\"*.gz\"]\n    older_than: 7d\n    action: archive\n    archive: {{ dest: {}, name: \"svc-{{{{ date }}}}.tar.gz\" }}\n",
            compress_playbook(&logs, ""),
            logs.display(),
            dest.display()
        ),
    );
    let tend = assert_cmd::cargo::cargo_bin("tend");
    // Killed the moment a compressed copy is being written, a few times over: each time some
    // `.gz.partial` is left for the next run, which must clear it and go on.
    for _ in 0..4 {
        let mut child = std::process::Command::new(&tend)
            .arg("cleanup")
            .arg(&p)
            .args(["--jobs", "2"])
            .env("TEND_STATE_DIR", env.state())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        crate::harness::wait_for("a partial file", Duration::from_secs(20), || {
            walk(&logs)
                .iter()
                .any(|p| p.to_string_lossy().ends_with(".gz.partial"))
                || child.try_wait().unwrap().is_some()
        });
        let _ = child.kill();
        let _ = child.wait();
        assert_all_present(&logs, &dest, &originals);
    }
    let out = cleanup(&env, &p);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_all_present(&logs, &dest, &originals);
    let leftovers: Vec<_> = walk(&logs)
        .into_iter()
        .chain(walk(&dest))
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "stale partial files removed: {leftovers:?}"
    );
    assert!(
        walk(&logs).is_empty(),
        "everything ended up archived: {:?}",
        walk(&logs)
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

/// Every original's bytes, in the original, its complete .gz, or a complete archive.
fn assert_all_present(logs: &Path, dest: &Path, originals: &BTreeMap<String, String>) {
    let mut archived: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for a in walk(dest)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
    {
        archived.extend(untar(&a));
    }
    for (name, want) in originals {
        let plain = logs.join(name);
        let found = if plain.exists() {
            Some(sha(&std::fs::read(&plain).unwrap()))
        } else if gz(&plain).exists() {
            Some(sha(&gunzip(&gz(&plain))))
        } else {
            archived.get(&format!("{name}.gz")).map(|bytes| {
                let mut out = vec![];
                flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_end(&mut out)
                    .unwrap();
                sha(&out)
            })
        };
        assert_eq!(found.as_ref(), Some(want), "{name} lost");
    }
}

#[test]
fn bytes_reclaimed_are_allocated_blocks_not_apparent_size() {
    let env = Env::new();
    let dir = env.path("old");
    std::fs::create_dir_all(&dir).unwrap();
    // 1 GiB apparent, almost nothing allocated: df would show nothing freed.
    let sparse = dir.join("sparse.tar.gz");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    age(&sparse, 100 * DAY);
    let p = env.write(
        "d.yaml",
        &format!("kind: cleanup\nrules:\n  - path: {}\n    match: [\"*.tar.gz\"]\n    older_than: 90d\n    action: delete\n", dir.display()),
    );
    let out = env
        .tend()
        .args(["cleanup", "--dry-run", "--output", "plain"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("would delete 1 files, reclaiming 0 B"),
        "{}",
        stderr(&out)
    );
    let out = cleanup(&env, &p);
    assert!(
        stderr(&out).contains("deleted 1 files, reclaimed 0 B"),
        "{}",
        stderr(&out)
    );
    assert!(!sparse.exists());
}

#[test]
fn a_second_cleanup_of_the_same_playbook_exits_75() {
    let env = Env::new();
    let logs = env.path("logs");
    std::fs::create_dir(&logs).unwrap();
    let p = env.write("c.yaml", &compress_playbook(&logs, ""));
    // Hold the playbook's lock as a running cleanup would: an flock on its lock file (which
    // a first run, with nothing to do yet, leaves).
    env.tend().arg("cleanup").arg(&p).assert().code(0);
    log(&logs.join("a.log"), 10, 3);
    let lock = std::fs::read_dir(env.state().join("locks"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .expect("flock (util-linux)");
    crate::harness::wait_for("flock to hold the lock", Duration::from_secs(10), || {
        std::process::Command::new("flock")
            .args(["-n"])
            .arg(&lock)
            .arg("true")
            .status()
            .is_ok_and(|s| !s.success())
    });
    let out = env.tend().arg("cleanup").arg(&p).output().unwrap();
    holder.kill().unwrap();
    let _ = holder.wait();
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("another run holds the lock for cleanup"),
        "{}",
        stderr(&out)
    );
    assert!(logs.join("a.log").exists());
}

#[test]
fn a_file_name_with_a_line_break_cannot_forge_a_line_of_output() {
    let env = Env::new();
    let logs = env.path("logs");
    let forged = "x\n2026-12-01T00:00:00.000Z ok      all good.log";
    log(&logs.join(forged), 100, 3);
    let p = env.write("c.yaml", &compress_playbook(&logs, ""));
    let out = env
        .tend()
        .args(["-v", "cleanup", "--output", "plain"])
        .arg(&p)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("compressed 1 files")
            && err.contains("x\\n2026-12-01T00:00:00.000Z ok      all good.log"),
        "{err}"
    );
    assert!(
        !err.lines()
            .any(|l| l.starts_with("2026-12-01T00:00:00.000Z")),
        "a line of its own: {err}"
    );
    assert!(gz(&logs.join(forged)).exists());
}

#[test]
fn a_rule_path_that_is_a_link_is_refused() {
    let env = Env::new();
    let outside = env.path("outside");
    log(&outside.join("keep.log"), 10, 3);
    std::os::unix::fs::symlink(&outside, env.path("logs")).unwrap();
    let p = env.write(
        "c.yaml",
        &format!(
            "kind: cleanup\nrules:\n  - {{ path: {}, match: [\"*.log\"], older_than: 1d, action: delete }}\n",
            env.path("logs").display()
        ),
    );
    let out = cleanup(&env, &p);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(err.contains("is a symlink (to "), "{err}");
    assert!(outside.join("keep.log").exists());
}

/// A line as a snapshot reads it: sizes as `N` (a file's size on disk depends on the file
/// system).
fn sizeless(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let mut out: Vec<String> = vec![];
    for (i, word) in words.iter().enumerate() {
        let bare = word.trim_start_matches('(').trim_end_matches([')', ',']);
        let number = !bare.is_empty() && bare.chars().all(|c| c.is_ascii_digit() || c == '.');
        let size = number
            && words.get(i + 1).is_some_and(|u| {
                ["B", "KiB", "MiB"].contains(&u.trim_end_matches([')', ',', ';']))
            });
        out.push(if size {
            word.replace(bare, "N")
        } else {
            word.to_string()
        });
    }
    out.join(" ")
}

#[test]
fn plan_of_a_cleanup_reads_as_its_dry_run() {
    use crate::harness::run::Runs;
    let env = Env::new();
    let logs = env.path("logs");
    log(&logs.join("a.log"), 2000, 3);
    log(&logs.join("b.log"), 2000, 3);
    log(&logs.join("new.log"), 2000, 0);
    let p = env.write("c.yaml", &compress_playbook(&logs, ""));
    let run = env.tend().arg("plan").arg(&p).run();
    run.code(0).stderr_is("");
    let text: Vec<String> = run
        .stdout()
        .replace(&env.dir.path().display().to_string(), "DIR")
        .lines()
        .map(sizeless)
        .collect();
    assert_eq!(
        text,
        [
            "cleanup 'c': a dry run, nothing is touched",
            "   1. compress old logs: would compress 2 files, N KiB → about N KiB",
            "        would compress DIR/logs/a.log (N KiB → about N KiB)",
            "        would compress DIR/logs/b.log (N KiB → about N KiB)",
            "cleanup would act on 2 files, about N KiB reclaimed",
        ]
    );
    let run = env.tend().args(["plan", "--output", "json"]).arg(&p).run();
    let doc: serde_json::Value = serde_json::from_str(&run.code(0).stdout()).unwrap();
    assert_eq!(doc["steps"][0]["step"], "compress old logs");
    assert_eq!(doc["steps"][0]["actions"].as_array().unwrap().len(), 2);
    assert_eq!(doc["exit_code"], 0);
}

/// A file the first rule takes is not counted again by the next: the dry run adds up to what
/// the real run does.
#[test]
fn a_dry_run_counts_each_file_once_across_rules() {
    use crate::harness::run::Runs;
    let env = Env::new();
    let logs = env.path("logs");
    for name in ["a.log", "b.log", "c.log"] {
        log(&logs.join(name), 200, 3);
    }
    let p = env.write(
        "c.yaml",
        &format!(
            "kind: cleanup\nrules:\n  - {{ name: old a, path: {0}, match: [\"a.log\"], older_than: 1d, action: delete }}\n  - {{ name: all old, path: {0}, match: [\"*.log\"], older_than: 1d, action: compress }}\n",
            logs.display()
        ),
    );
    let plan = env.tend().arg("plan").arg(&p).run();
    plan.code(0)
        .stdout_has("1. old a: would delete 1 files")
        .stdout_has("2. all old: would compress 2 files")
        .stdout_has("cleanup would act on 3 files");
    env.tend()
        .args(["cleanup", "--output", "plain"])
        .arg(&p)
        .run()
        .code(0)
        .stderr_has("cleanup acted on 3 files");
    // What a rule makes (a .gz, an archive) a later rule may take: the plan says it cannot see it.
    let p = env.write(
        "d.yaml",
        &format!(
            "kind: cleanup\nrules:\n  - {{ name: zip, path: {0}, match: [\"*.log\"], older_than: 1d, action: compress }}\n  - {{ name: expire, path: {0}, match: [\"*.gz\"], older_than: 2d, action: delete }}\n",
            logs.display()
        ),
    );
    env.tend()
        .arg("plan")
        .arg(&p)
        .run()
        .code(0)
        .stdout_has("warning: a dry run does not see the .gz files and archives zip makes");
}

/// A playbook read from a pipe has no path of its own: its text names its lock, so two
/// different ones do not share one, and the same one does.
#[test]
fn a_piped_playbook_is_locked_by_its_text() {
    use crate::harness::run::Runs;
    let env = Env::new();
    let logs = env.path("logs");
    std::fs::create_dir(&logs).unwrap();
    let run = |extra: &str| {
        env.tend()
            .args(["cleanup", "/dev/stdin"])
            .write_stdin(compress_playbook(&logs, extra))
            .run()
            .code(0);
    };
    run("");
    run("");
    run("name: other\n");
    let mut locks: Vec<String> = std::fs::read_dir(env.state().join("locks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    locks.sort();
    assert_eq!(locks.len(), 2, "{locks:?}");
    assert!(
        locks.iter().all(|l| l.starts_with("cleanup-piped-")),
        "{locks:?}"
    );
}

/// Whoever can write the archive directory can write a list of sources there: a list that names
/// a file outside the rule's path, or one the archive does not hold, removes nothing.
#[test]
fn a_forged_list_of_archived_sources_removes_nothing() {
    use crate::harness::run::Runs;
    use std::os::unix::fs::MetadataExt;
    let env = Env::new();
    let logs = env.path("logs");
    let dest = env.path("archive");
    log(&logs.join("a.log.gz"), 100, 10);
    let p = env.write(
        "a.yaml",
        &format!(
            "kind: cleanup\nrules:\n  - path: {}\n    match: [\"*.gz\"]\n    older_than: 7d\n    action: archive\n    archive: {{ dest: {}, name: \"app-{{{{ date }}}}.tar.gz\", group_by: day }}\n",
            logs.display(),
            dest.display()
        ),
    );
    env.tend().arg("cleanup").arg(&p).run().code(0);
    let archive = std::fs::read_dir(&dest)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let list = dest.join(format!(
        ".{}.sources",
        archive.file_name().unwrap().to_string_lossy()
    ));
    let forge = |victim: &Path| {
        let m = std::fs::metadata(victim).unwrap();
        let ns = m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128;
        std::fs::write(
            &list,
            format!(
                "[{{\"path\":{:?},\"size\":{},\"mtime_ns\":{ns}}}]",
                victim.display().to_string(),
                m.len()
            ),
        )
        .unwrap();
    };
    // Outside the rule's path: refused, with why.
    let victim = env.path("precious.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    forge(&victim);
    env.tend()
        .args(["cleanup", "--output", "plain"])
        .arg(&p)
        .run()
        .code(1)
        .stderr_has("which is not below")
        .stderr_has("not a list tend wrote; left alone");
    assert!(victim.exists(), "a file outside the root was removed");
    // Inside it but not in the archive: kept.
    let inside = logs.join("fresh.log.gz");
    log(&inside, 10, 0);
    forge(&inside);
    env.tend().arg("cleanup").arg(&p).run().code(0);
    assert!(
        inside.exists(),
        "a file the archive does not hold was removed"
    );
}
