//! Ansible inventories: what tend reads is held to `ansible-inventory` and `ansible
//! --list-hosts` by the committed outputs under `tests/inventories/*/expected/` (the unit tests
//! in `src/inventory/` compare). Here Ansible runs again, so those outputs cannot go stale.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::harness::run::Runs;
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
        for file in [
            "list.json",
            "connections.json",
            "order.json",
            "patterns.json",
        ] {
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
    assert!(compared >= 16, "{compared}");
}

/// `tend plan --limit PATTERN --output json` on a deploy playbook naming each test inventory:
/// the hosts, addresses, ports, users, keys, groups and vars it lists are those Ansible
/// resolves (`ansible-inventory --list`, its ssh plugin's log and `ansible PATTERN
/// --list-hosts`, committed under `expected/`), for every pattern Ansible answers; and without
/// `--limit`, in the order `ansible all --list-hosts` gives.
#[test]
fn plan_lists_the_hosts_ansible_resolves() {
    let env = Env::new();
    let cases = repo_root().join("tests/inventories");
    let mut checked = 0;
    for case in std::fs::read_dir(&cases).unwrap() {
        let case = case.unwrap().path();
        let read = |f: &str| -> Value {
            serde_json::from_str(&std::fs::read_to_string(case.join("expected").join(f)).unwrap())
                .unwrap()
        };
        let (list, connections, patterns) = (
            read("list.json"),
            read("connections.json"),
            read("patterns.json"),
        );
        let playbook = env.write(
            "deploy.yaml",
            &format!(
                "kind: deploy\ninventory: {}\ndeploy:\n  root: /srv/app\n  release: v1\n  fetch: {{ path: /dev/null }}\n",
                case.join("hosts").display()
            ),
        );
        // The lines the `patterns` file marks `# refused`.
        let refused: Vec<String> = std::fs::read_to_string(case.join("patterns"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once("# refused"))
            .map(|(p, _)| p.trim().to_string())
            .collect();
        let mut wanted: BTreeMap<String, Vec<String>> =
            serde_json::from_value(patterns.clone()).unwrap();
        wanted.insert(
            "all".into(),
            list["_meta"]["hostvars"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect(),
        );
        for (pattern, names) in wanted {
            let run = env
                .tend()
                .arg("plan")
                .arg(&playbook)
                .args(["--offline", "--output", "json", "--limit", &pattern])
                .run();
            if refused.contains(&pattern) {
                // Ansible ignores a term that matches nothing; tend refuses it.
                run.code(64).stderr_has("--limit: no host or group");
                continue;
            }
            run.code(0);
            let doc: Value = serde_json::from_str(&run.stdout()).unwrap();
            if pattern == "all" {
                // The order a run takes them in is Ansible's.
                let names: Vec<&str> = doc["hosts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h["name"].as_str().unwrap())
                    .collect();
                assert_eq!(
                    json!(names),
                    read("order.json"),
                    "the order of {}",
                    case.display()
                );
            }
            let mut listed: Vec<Value> = doc["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    json!({
                        "name": h["name"], "address": h["address"], "port": h["port"],
                        "user": h["user"], "vars": h["vars"],
                    })
                })
                .collect();
            listed.sort_by_key(|h| h["name"].as_str().unwrap().to_string());
            let expected: Vec<Value> = names
                .iter()
                .map(|n| {
                    let reach = &connections[n];
                    let mut vars = list["_meta"]["hostvars"][n].clone();
                    vars.as_object_mut()
                        .unwrap()
                        .retain(|k, _| !k.starts_with("ansible_"));
                    json!({
                        "name": n, "address": reach["address"], "port": reach["port"],
                        "user": reach["user"], "vars": vars,
                    })
                })
                .collect();
            assert_eq!(listed, expected, "--limit {pattern} in {}", case.display());
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked}");
}

/// A literal `ansible_become_password` that does not render is refused without being quoted;
/// a `--limit` whose `&` and `!` take every host away says so.
#[test]
fn a_bad_become_password_is_not_quoted_and_an_empty_limit_says_why() {
    let env = Env::new();
    env.write(
        "hosts",
        "[web]\nw1 ansible_host=127.0.0.1 ansible_become=true ansible_become_password=Lit{%eral9876xyz\n[db]\nd1 ansible_host=127.0.0.2\n",
    );
    let playbook = env.write(
        "deploy.yaml",
        "kind: deploy\ninventory: hosts\ndeploy:\n  root: /srv/app\n  release: v1\n  fetch: { path: /dev/null }\n",
    );
    let run = env
        .tend()
        .arg("plan")
        .arg(&playbook)
        .args(["--offline", "--limit", "w1"])
        .run();
    run.code(64)
        .stderr_has("host w1: ansible_become_password does not render");
    assert!(!format!("{}{}", run.stdout(), run.stderr()).contains("9876"));
    env.tend()
        .arg("plan")
        .arg(&playbook)
        .args(["--offline", "--limit", "web:&db"])
        .run()
        .code(64)
        .stderr_has("--limit 'web:&db' leaves none of the 2 hosts");
}

/// A text plan shows every command that will run: hosts whose steps render alike share one
/// list, a host whose vars change its commands gets its own, and past ten lists the rest are
/// counted (the JSON plan has each host's); a host that runs its commands through sudo says so.
#[test]
fn a_text_plan_shows_each_different_step_list_once() {
    let env = Env::new();
    env.write(
        "hosts",
        "[web]\nw[01:12] ansible_host=127.0.0.1\nw01 greeting=hi ansible_become=yes\n",
    );
    let plan = |start: &str| {
        let playbook = env.write(
            "deploy.yaml",
            &format!(
                "kind: deploy\ninventory: hosts\ndeploy:\n  root: /srv/app\n  release: v1\n  fetch: {{ path: /dev/null }}\n  start: [ \"{start}\" ]\n"
            ),
        );
        let run = env
            .tend()
            .arg("plan")
            .arg(&playbook)
            .args(["--offline", "--output", "plain"])
            .run();
        run.code(0);
        run.stdout()
    };
    let text = plan("echo {{ greeting | default('hello') }}");
    assert!(
        text.contains("w01 (127.0.0.1)  root /srv/app  (sudo as root)\n"),
        "{text}"
    );
    assert!(text.contains("\nsteps on w01:\n"), "{text}");
    assert!(text.contains("start: echo hi"), "{text}");
    assert!(
        text.contains("\nsteps on w02, w03, w04, w05, w06, w07, w08, w09, w10, w11, w12:\n"),
        "{text}"
    );
    let text = plan("echo {{ host.name }}");
    assert_eq!(text.matches("\nsteps on ").count(), 10, "{text}");
    assert!(
        text.contains("\n... and 2 more host(s) whose steps differ from those above: --output json lists each host's\n"),
        "{text}"
    );
}

/// A host var named like one of tend's own (`release`) is warned of; a var the playbook leaves
/// to `--var`, which validate stands in for, is not a collision.
#[test]
fn a_host_var_hidden_by_tends_own_name_is_warned_of_and_a_stand_in_is_not() {
    let env = Env::new();
    env.write(
        "hosts",
        "[web]\nw1 ansible_host=127.0.0.1 release=r7 only_w1=x\nw2 ansible_host=127.0.0.2\n",
    );
    let playbook = env.write(
        "deploy.yaml",
        "kind: deploy\ninventory: hosts\ndeploy:\n  root: /srv/app\n  release: v1\n  fetch: { path: /dev/null }\n  start: [ \"echo {{ only_w1 }}\", \"echo {{ host.vars.release | default('') }}\" ]\n",
    );
    let run = env.tend().arg("validate").arg(&playbook).run();
    run.code(0);
    run.stderr_has("inventory var 'release' (on w1) is also tend's: {{ release }} is tend's value, {{ host.vars.release }} the host's");
    assert!(!run.stderr().contains("'only_w1'"), "{}", run.stderr());
}
