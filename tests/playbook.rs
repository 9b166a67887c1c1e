//! Bad input gets a clear error pointing at the playbook line, never a panic.

use crate::harness::run::{Run, Runs};
use crate::harness::{Env, stderr};

/// `tend validate` on a playbook of this text.
fn validate(env: &Env, text: &str) -> Run {
    let p = env.write("bad.yaml", text);
    env.tend().arg("validate").arg(&p).run()
}

/// `tend validate` on raw bytes (a file no editor would write on purpose).
fn validate_bytes(env: &Env, bytes: &[u8]) -> Run {
    let p = env.path("raw.yaml");
    std::fs::write(&p, bytes).unwrap();
    env.tend().arg("validate").arg(&p).run()
}

/// One shape over many values: each playbook is refused (exit 64), its message says what was
/// wrong and what was expected, at the place of the value.
#[test]
fn bad_values_are_refused_with_what_was_expected_at_their_place() {
    let env = Env::new();
    let logs = env.path("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let inside = format!(
        "kind: cleanup\nrules:\n  - path: {0}\n    match: [\"*.gz\"]\n    action: archive\n    archive: {{ dest: {0}/old, name: \"a-{{{{ date }}}}.tar.gz\" }}\n",
        logs.display()
    );
    let rows: Vec<(&str, &[&str])> = vec![
        (
            "kind: check\nzzz: 1\nchecks: []\n",
            &["unknown key 'zzz'", ":2:1", "allowed keys: kind, name,"],
        ),
        (
            "kind: chek\n",
            &["unknown playbook kind 'chek'", "did you mean 'check'?"],
        ),
        (
            "- kind: check\n",
            &["expected a mapping at the top of the playbook, found sequence"],
        ),
        (
            "kind: check\nchecks:\n  - cpu: { sample: 5 }\n",
            &["duration 5 needs a unit, like 5s or 5ms", ":3:20"],
        ),
        (
            "kind: check\nchecks:\n  - probe: { tcp: \"127.0.0.1:1\", timeout: 5 fortnights }\n",
            &["invalid duration '5 fortnights'"],
        ),
        (
            "kind: check\nchecks:\n  - disk: { free: { crit: lots } }\n",
            &["invalid size 'lots'"],
        ),
        (
            "kind: check\nchecks:\n  - process: { name: nginx, min: 99999999999999999999 }\n",
            &["expected a whole number", ":3:34"],
        ),
        (
            "kind: check\nchecks:\n  - disk:\n      mount: /\n      warn: 95\n      crit: 90\n",
            &[
                "warn 95% is above crit 90%: the warning would never fire",
                "bad.yaml:5:13",
            ],
        ),
        (
            "kind: check\nchecks:\n  - disk: {}\n    memory: {}\n",
            &["one entry holds both `disk` and `memory`"],
        ),
        (
            "kind: check\nchecks:\n  - dsik: {}\n",
            &["unknown key 'dsik'", "did you mean 'disk'?"],
        ),
        (
            "kind: check\nnotify:\n  webhook: { url: \"http://127.0.0.1:1/\", on: [critcal] }\nchecks:\n  - memory: {}\n",
            &["unknown alert reason 'critcal'", "did you mean 'critical'?"],
        ),
        (
            "kind: check\nvars: { port: 8080 }\nchecks:\n  - probe: { tcp: \"127.0.0.1:{{ prot }}\" }\n",
            &[
                "undefined variable 'prot' in template",
                "did you mean 'port'?",
            ],
        ),
        (
            "kind: check\nchecks:\n  - cpu: { warn: .nan }\n",
            &["is not a finite number", ":3:18"],
        ),
        (
            "kind: check\nchecks:\n  - disk: { mount: /, crit: .inf }\n",
            &["is not a finite number", ":3:29"],
        ),
        (
            "kind: check\nchecks:\n  - load: { warn: [1, -.inf, 2] }\n",
            &["is not a finite number", ":3:23"],
        ),
        (
            "kind: cleanup\nrules: [{ path: /tmp, match: ['*'], action: delete, expendable: true }]\nfree_space: { mount: /, max_used_percent: .NaN }\n",
            &["is not a finite number", ":3:43"],
        ),
        (
            "kind: check\ntimeout: 18446744073709551615s\nchecks:\n  - memory: {}\n",
            &[
                "duration '18446744073709551615s' is longer than 100 years",
                "bad.yaml:",
            ],
        ),
        (
            "kind: check\nchecks:\n  - file_age: { path: /etc/hostname, max_age: 18446744073709551615s }\n",
            &["is longer than 100 years", "bad.yaml:"],
        ),
        (
            "kind: check\nchecks:\n  - probe: { tcp: \"127.0.0.1:1\", timeout: 0s }\n",
            &["a timeout of 0s fails every attempt", "bad.yaml:"],
        ),
        (
            "kind: check\ntimeout: 5s\nchecks:\n  - cpu: { sample: 5s }\n",
            &["past the run's deadline of 5s", "bad.yaml:"],
        ),
        (
            "kind: check\nchecks:\n  - probe: { command: \"echo \\x00 end\" }\n",
            &["a command cannot hold a NUL byte", "bad.yaml:"],
        ),
        (
            "kind: check\nname: a\nchecks: []\nname: b\n",
            &["error: key 'name' is written twice", ":4:1\n"],
        ),
        (
            "kind: check\nchecks:\n  - cpu: { warn: 1, warn: 2 }\n",
            &["key 'warn' is written twice in checks[0].cpu", ":3:21"],
        ),
        (
            "kind: check\nchecks:\n  - disk: { mount: 3 }\n",
            &[
                "expected a mount point like /var or a list of them",
                ":3:20",
            ],
        ),
        (
            "kind: check\nchecks:\n  - load: { warn: {a: 1} }\n",
            &["or a list of three, for 1, 5 and 15 minutes"],
        ),
        (&inside, &["is inside the rule's own path"]),
    ];
    for (text, says) in rows {
        let run = validate(&env, text);
        run.code(64);
        for want in says {
            run.stderr_has(want);
        }
    }
}

#[test]
fn the_check_subcommand_says_a_wrong_kind_as_nagios_unknown() {
    let env = Env::new();
    let p = env.write("cleanup.yaml", "kind: cleanup\nrules: []\n");
    env.tend()
        .arg("check")
        .arg(&p)
        .run()
        .code(3)
        .stderr_has("this is a cleanup playbook, where a check playbook is needed")
        .stderr_has("cleanup.yaml:1:7");
}

#[test]
fn flags_past_a_century_are_refused() {
    let env = Env::new();
    for flag in ["--timeout", "--wait-lock"] {
        env.tend()
            .args(["check", flag, "18446744073709551615s", "--output", "nagios"])
            .run()
            .code(3)
            .stdout_has("is longer than 100 years");
    }
}

#[test]
fn a_vars_file_defines_what_the_templates_use() {
    let env = Env::new();
    let vf = env.write("vars.yaml", "url: http://127.0.0.1:1/\n");
    let p = env.write(
        "v.yaml",
        "kind: check\nchecks:\n  - probe: { http: \"{{ url }}\" }\n",
    );
    env.tend()
        .arg("validate")
        .arg(&p)
        .arg("--vars-file")
        .arg(&vf)
        .run()
        .code(0);
}

#[test]
fn unknown_key_points_at_it_with_a_suggestion() {
    let env = Env::new();
    validate(
        &env,
        "kind: check\nchecks:\n  - disk: { mount: /, warn: 80, crti: 90 }\n",
    )
    .code(64)
    .stderr_is(
        &"error: unknown key 'crti' in checks[0].disk\n --> bad.yaml:3:33\n  |\n3 |   - disk: { mount: /, warn: 80, crti: 90 }\n  |                                 ^^^^\n  = hint: did you mean 'crit'?\n"
            .replace("bad.yaml", &env.path("bad.yaml").display().to_string()),
    );
}

#[test]
fn empty_file() {
    let env = Env::new();
    validate(&env, "")
        .code(64)
        .stderr_has("error: the playbook is empty")
        .stderr_has("hint: a playbook is a YAML mapping");
    // For tend check it is UNKNOWN, as Nagios expects.
    let p = env.write("empty.yaml", "# nothing\n");
    let run = env
        .tend()
        .args(["check", "--output", "nagios"])
        .arg(&p)
        .run();
    run.code(3);
    assert!(
        run.stdout().starts_with("TEND UNKNOWN - "),
        "{}",
        run.stdout()
    );
}

#[test]
fn undefined_variable_names_it() {
    let env = Env::new();
    let text = "kind: check\nvars: { port: 8080 }\nchecks:\n  - probe: { http: \"http://{{ hots }}:{{ port }}/\" }\n";
    // A value given at run time, for validate: named, and checked with a stand-in.
    let p = env.write("bad.yaml", text);
    env.tend()
        .arg("validate")
        .arg(&p)
        .run()
        .code(0)
        .stdout_is(&format!(
            "ok: {} (check, 1 checks; required at run time: hots)\n",
            p.display()
        ));
    env.tend()
        .args(["validate", "--vars-complete"])
        .arg(&p)
        .run()
        .code(64)
        .stderr_has("undefined variable 'hots' in template")
        .stderr_has("bad.yaml:4:20")
        .stderr_has("defined: port");
    // --var defines it.
    env.tend()
        .arg("validate")
        .arg(&p)
        .args(["--var", "hots=127.0.0.1"])
        .run()
        .code(0);
}

#[test]
fn unreadable_playbooks() {
    let env = Env::new();
    let out = env
        .tend()
        .arg("validate")
        .arg(env.path("nope.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("cannot read playbook") && stderr(&out).contains("no such file"),
        "{}",
        stderr(&out)
    );
    let out = env
        .tend()
        .arg("validate")
        .arg(env.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("it is a directory"),
        "{}",
        stderr(&out)
    );
    std::fs::write(env.path("bin.yaml"), [0xff, 0xfe, 0x00]).unwrap();
    let out = env
        .tend()
        .arg("validate")
        .arg(env.path("bin.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("is not UTF-8 text"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn every_shipped_playbook_validates() {
    let env = Env::new();
    let dir = crate::harness::repo_root().join("playbooks");
    // Shipped playbooks name this machine's directories through vars: point them here.
    for d in ["logs", "archive"] {
        std::fs::create_dir_all(env.path(d)).unwrap();
    }
    let vars = env.write(
        "vars.yaml",
        &format!(
            "log_dir: {0}/logs\narchive_dir: {0}/archive\nlog_mount: {0}\nsha256: {1}\n",
            env.dir.path().display(),
            "0".repeat(64)
        ),
    );
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let out = env
                .tend()
                .arg("validate")
                .arg(&path)
                .arg("--vars-file")
                .arg(&vars)
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}",
                path.display(),
                stderr(&out)
            );
            n += 1;
        }
    }
    assert!(n >= 1, "no playbooks found in {}", dir.display());
}

#[test]
fn a_lone_carriage_return_does_not_move_the_caret_to_another_line() {
    let env = Env::new();
    // YAML counts the CR as a line break; the caret stays on the line that holds it.
    validate_bytes(
        &env,
        b"kind: check\nchecks:\n  - memory: {}\n  \r - load: {}\n\n  - disk: {}\n",
    )
    .code(64)
    .stderr_has("raw.yaml:4:");
}

#[test]
fn shipped_playbooks_validate_on_a_machine_they_are_not_meant_for() {
    let env = Env::new();
    let dir = crate::harness::repo_root().join("playbooks");
    let mut playbooks: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    playbooks.sort();
    let validate = |flags: &[&str]| {
        env.tend()
            .arg("validate")
            .args(flags)
            .args(&playbooks)
            .output()
            .unwrap()
    };
    let out = validate(&[]);
    let (text, err) = (crate::harness::stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{text}{err}");
    assert_eq!(text.lines().count(), playbooks.len(), "{text}");
    assert!(
        text.contains("(deploy, release 2.4.0, 12 steps; required at deploy time: sha256)"),
        "{text}"
    );
    let missing_here = !std::path::Path::new("/var/log/app").exists();
    if missing_here {
        assert!(
            err.contains("cleanup-app-logs.yaml:18:11: path '/var/log/app': no such file or directory (on this machine; checked again when it runs, --strict-host makes it an error)"),
            "{err}"
        );
        let out = validate(&["--strict-host"]);
        assert_eq!(out.status.code(), Some(64));
        assert!(
            stderr(&out).contains("error: path '/var/log/app': no such file or directory"),
            "{}",
            stderr(&out)
        );
    }
    let out = validate(&["--vars-complete"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("error: undefined variable 'sha256' in template"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn permission_denied_is_said_plainly() {
    let env = Env::new();
    let p = env.write("secret.yaml", "kind: check\nchecks:\n  - memory: {}\n");
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::set_permissions(
        env.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // Root reads anything, so read it as nobody.
    let tend = assert_cmd::cargo::cargo_bin("tend");
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&tend)
        .arg("validate")
        .arg(&p)
        .output()
        .expect("setpriv (util-linux)");
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot read playbook") && stderr(&out).contains("permission denied"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_empty_secret_is_an_error_and_a_short_one_a_warning() {
    let env = Env::new();
    let p = env.write(
        "c.yaml",
        "kind: check\nsecrets: { pw: { env: TEND_TEST_PW } }\nchecks:\n  - probe: { command: \"test -n {{ pw }}\" }\n",
    );
    // Too short to mask without masking ordinary text: said at validate.
    let out = env
        .tend()
        .args(["validate"])
        .arg(&p)
        .env("TEND_TEST_PW", "ab")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stderr(&out),
        "warning: secret 'pw' is only 2 characters long: every occurrence of that text in tend's output is masked as ***\n"
    );
    // Empty: an error when it is read for a run.
    let out = env
        .tend()
        .args(["check", "--output", "nagios"])
        .arg(&p)
        .env("TEND_TEST_PW", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("cannot read secret 'pw': environment variable TEND_TEST_PW is empty"),
        "{err}"
    );
}

#[test]
fn a_value_of_the_wrong_shape_says_what_was_expected() {
    let env = Env::new();
    validate(&env, "kind: check\nchecks:\n  - cpu: { warn: [1] }\n")
        .code(64)
        .stderr_is(&format!(
            "error: expected a number like 80 or a Nagios range like \"10:20\" in checks[0].cpu.warn, found sequence\n --> {}:3:18\n  |\n3 |   - cpu: {{ warn: [1] }}\n  |                  ^\n",
            env.path("bad.yaml").display()
        ));
    validate(&env, "kind: check\nchecks:\n  - load: { warn: {a: 1} }\n").stderr_lacks("untagged");
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let env = Env::new();
    validate_bytes(&env, b"\xef\xbb\xbfkind: check\nchecks:\n  - cpu: {}\n").code(0);
}

#[test]
fn bad_bytes_and_alias_bombs_are_shown_where_they_are() {
    let env = Env::new();
    validate_bytes(&env, b"kind: check\nname: caf\xe9\nchecks: []\n")
        .code(64)
        .stderr_has("not UTF-8 text: byte 0xe9 here")
        .stderr_has("raw.yaml:2:10");
    let mut bomb = "kind: check\nvars:\n  a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n".to_string();
    for i in 1..12 {
        bomb += &format!(
            "  a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(",")
        );
    }
    bomb += "checks: [{cpu: {}}]\n";
    validate(&env, &bomb)
        .code(64)
        .stderr_has("these aliases expand to too many values")
        .stderr_has(":4:12");
}

#[test]
fn deep_nesting_is_refused_at_once_with_its_place() {
    let env = Env::new();
    let deep = format!(
        "kind: check\nchecks: {}{}\n",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let run = validate(&env, &deep);
    run.code(64)
        .stderr_has("this nests deeper than 64 levels")
        .stderr_has(":2:72");
    // The line is shown around the caret, not 40,000 characters of it.
    assert!(run.stderr().len() < 1_000, "{}", run.stderr());
}

#[test]
fn values_given_at_deploy_time_are_checked_with_a_stand_in_that_fits_their_field() {
    let env = Env::new();
    let p = env.write(
        "d.yaml",
        "kind: deploy\ndeploy:\n  root: \"{{ root }}\"\n  release: \"{{ version }}\"\n  fetch: { url: \"{{ artifact_url }}\", sha256: \"{{ sha256 }}\" }\n  start: [\"bin/start {{ port }}\"]\n  verify:\n    - tcp: \"{{ addr }}\"\n    - http: \"{{ url }}\"\n",
    );
    let out = env.tend().arg("validate").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // `port` is not taken for a typo of `root`, which only has a stand-in.
    assert!(
        crate::harness::stdout(&out).ends_with(
            "required at deploy time: root, version, artifact_url, sha256, port, addr, url)\n"
        ),
        "{}",
        crate::harness::stdout(&out)
    );
    assert_eq!(stderr(&out), "", "no warning about a stand-in's path");
}

#[test]
fn an_endless_file_is_not_read_to_the_end() {
    let env = Env::new();
    let out = env
        .tend()
        .args(["validate", "/dev/zero"])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        stderr(&out),
        "error: playbook /dev/zero is larger than 16 MiB: not a playbook\n"
    );
}

#[test]
fn an_environment_variable_unset_here_is_required_at_run_time_for_validate() {
    let env = Env::new();
    let p = env.write(
        "e.yaml",
        "kind: check\nchecks:\n  - probe: { command: \"curl -u {{ env.TEND_TEST_UNSET_USER }} http://127.0.0.1:1/\" }\n",
    );
    let out = env.tend().arg("validate").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        crate::harness::stdout(&out)
            .ends_with("(check, 1 checks; required at run time: env.TEND_TEST_UNSET_USER)\n"),
        "{}",
        crate::harness::stdout(&out)
    );
    let out = env
        .tend()
        .args(["validate", "--vars-complete"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("the environment variable TEND_TEST_UNSET_USER is not set"),
        "{}",
        stderr(&out)
    );
}
