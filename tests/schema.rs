//! `tend schema`: the JSON Schemas editors check playbooks with, and their agreement with the
//! loader. The schemas are judged by Python's `jsonschema` (draft 2020-12), a validator tend
//! did not write; YAML is read into JSON by the loader's own YAML parser, so a YAML 1.1 reader
//! (`on:` as true) cannot muddle the comparison.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::{Env, repo_root, stderr, stdout};

const KINDS: [&str; 4] = ["deploy", "cleanup", "failover", "check"];

const VALIDATE: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema)
out = []
for instance in json.load(sys.stdin):
    error = best_match(validator.iter_errors(instance))
    out.append(None if error is None else "/".join(map(str, error.absolute_path)) + ": " + error.message)
print(json.dumps(out))
"#;

/// Each instance judged by the schema at `schema`: None when valid, else the best error.
pub fn judge(schema: &Path, instances: &[Value]) -> Vec<Option<String>> {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .args(["-c", VALIDATE])
        .arg(schema)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (scripts/test installs python3-jsonschema)");
    let input = serde_json::to_vec(instances).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "the validator failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A playbook as JSON, read by the loader's YAML parser (None: not a mapping JSON can hold,
/// e.g. one with `.inf` or `.nan`, which JSON has no number for).
pub fn as_json(yaml: &[u8]) -> Option<Value> {
    fn finite(v: &serde_yaml::Value) -> bool {
        match v {
            serde_yaml::Value::Number(n) => n.as_f64().is_none_or(f64::is_finite),
            serde_yaml::Value::Sequence(items) => items.iter().all(finite),
            serde_yaml::Value::Mapping(m) => m.iter().all(|(k, v)| finite(k) && finite(v)),
            serde_yaml::Value::Tagged(t) => finite(&t.value),
            _ => true,
        }
    }
    serde_yaml::from_slice::<serde_yaml::Value>(yaml)
        .ok()
        .filter(finite)?;
    serde_yaml::from_slice::<Value>(yaml)
        .ok()
        .filter(Value::is_object)
}

pub fn schema_file(kind: Option<&str>) -> PathBuf {
    repo_root()
        .join("schema")
        .join(format!("{}.json", kind.unwrap_or("tend")))
}

/// `scripts/generate` wrote what `tend schema` prints now, for each kind and for all of them.
#[test]
fn the_committed_schemas_are_current() {
    let env = Env::new();
    for kind in KINDS.iter().map(Some).chain([None]) {
        let mut cmd = env.tend();
        cmd.arg("schema").args(kind);
        let fresh = stdout(&cmd.output().unwrap());
        let path = schema_file(kind.copied());
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            fresh == committed,
            "{} is stale: run scripts/generate",
            path.display()
        );
        let doc: Value = serde_json::from_str(&fresh).unwrap();
        assert_eq!(
            doc["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{kind:?}"
        );
    }
    let out = env.tend().args(["schema", "deploi"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("[possible values: deploy, cleanup, failover, check]"),
        "{}",
        stderr(&out)
    );
}

/// Walk every property of every object in a schema, with the schema it resolves to.
fn properties<'a>(at: String, node: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                for (k, v) in props {
                    out.push((format!("{at}.{k}"), v));
                }
            }
            // The branches of oneOf and if/then/else constrain keys described elsewhere.
            for (k, v) in map {
                if !["oneOf", "if", "then", "else", "not"].contains(&k.as_str()) {
                    properties(format!("{at}/{k}"), v, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                properties(format!("{at}[{i}]"), v, out);
            }
        }
        _ => {}
    }
}

/// What a property's schema says, following `$ref`s and the branches of `anyOf` (an Option's
/// null, a string-or-mapping's two forms).
fn says<'a>(doc: &'a Value, s: &'a Value, key: &str) -> bool {
    if s.get(key).is_some() {
        return true;
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return doc
            .pointer(r.trim_start_matches('#'))
            .is_some_and(|d| says(doc, d, key));
    }
    s.get("anyOf")
        .and_then(Value::as_array)
        .is_some_and(|branches| {
            branches
                .iter()
                .filter(|b| b.get("type") != Some(&json!("null")))
                .any(|b| says(doc, b, key))
        })
}

/// Whether an editor can show what a value looks like: an example, a list to pick from (an enum,
/// a constant, yes/no), a mapping of its own keys, or items and values that can.
fn shown(doc: &Value, s: &Value) -> bool {
    let ty = s.get("type");
    if ["examples", "enum", "const", "properties"]
        .iter()
        .any(|k| s.get(k).is_some())
        || ty == Some(&json!("boolean"))
        || ty == Some(&json!(["boolean", "null"]))
    {
        return true;
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return doc
            .pointer(r.trim_start_matches('#'))
            .is_some_and(|d| shown(doc, d));
    }
    for inner in ["items", "additionalProperties"] {
        if let Some(i) = s.get(inner).filter(|i| i.is_object()) {
            return shown(doc, i);
        }
    }
    ["anyOf", "oneOf"].iter().any(|k| {
        s.get(k).and_then(Value::as_array).is_some_and(|branches| {
            branches
                .iter()
                .filter(|b| b.get("type") != Some(&json!("null")))
                .all(|b| shown(doc, b))
        })
    })
}

/// An editor shows a key's description and offers its examples: every key has a description,
/// and an example unless its value is picked from a list, a yes/no, or a mapping of its own.
#[test]
fn every_key_has_a_description_and_an_example() {
    let env = Env::new();
    for kind in KINDS {
        let doc: Value =
            serde_json::from_slice(&env.tend().args(["schema", kind]).output().unwrap().stdout)
                .unwrap();
        let mut all = vec![];
        properties(kind.to_string(), &doc, &mut all);
        assert!(all.len() > 20, "{kind}: {} keys", all.len());
        let mut missing = vec![];
        for (at, s) in &all {
            if !says(&doc, s, "description") {
                missing.push(format!("{at}: no description"));
            }
            if !shown(&doc, s) {
                missing.push(format!("{at}: no example"));
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }
}

/// Every shipped playbook starts with the line that points an editor at its kind's schema (as
/// the package installs them: `examples/` beside `schema/`), and validates against it.
#[test]
fn shipped_playbooks_name_and_pass_their_schema() {
    let dir = repo_root().join("playbooks");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read(&path).unwrap();
        let doc = as_json(&text).unwrap();
        let kind = doc["kind"].as_str().unwrap();
        let first = String::from_utf8_lossy(&text)
            .lines()
            .next()
            .unwrap()
            .to_string();
        assert_eq!(
            first,
            format!("# yaml-language-server: $schema=../schema/{kind}.json"),
            "{}",
            path.display()
        );
        for schema in [schema_file(Some(kind)), schema_file(None)] {
            assert_eq!(
                judge(&schema, std::slice::from_ref(&doc)),
                vec![None],
                "{} against {}",
                path.display(),
                schema.display()
            );
        }
        seen += 1;
    }
    assert_eq!(seen, 4);
}

const DEPLOY: &str = "kind: deploy
deploy:
  root: /srv/shop
  release: \"1\"
  fetch: { path: /var/artifacts/shop }
";

/// Mistakes an editor should underline, each refused by `tend validate` too; and the forms a
/// playbook may take that look like mistakes but are not (a bare command, an empty list, a
/// range as a threshold), taken by both.
#[test]
fn the_schema_and_the_loader_agree_on_a_corpus() {
    let refused: &[(&str, String)] = &[
        ("an unknown top-level key", format!("{DEPLOY}rolout: {{}}\n")),
        (
            "an unknown key inside",
            DEPLOY.replace("{ path: /var/artifacts/shop }", "{ path: /x, sha: abc }"),
        ),
        ("a wrong kind", DEPLOY.replace("kind: deploy", "kind: deploi")),
        ("no kind", DEPLOY.replace("kind: deploy\n", "")),
        (
            "another kind's keys",
            DEPLOY.replace("kind: deploy", "kind: check"),
        ),
        (
            "a missing required key",
            DEPLOY.replace("  fetch: { path: /var/artifacts/shop }\n", ""),
        ),
        ("a wrong type", format!("{DEPLOY}  keep_releases: five\n")),
        ("a number where a list goes", format!("{DEPLOY}  stop: 3\n")),
        ("a duration without a unit", format!("{DEPLOY}  stop: [{{ run: x, timeout: 30 }}]\n")),
        ("a duration that is not one", format!("{DEPLOY}  stop: [{{ run: x, timeout: 5 parsecs }}]\n")),
        ("a negative retry count", format!("{DEPLOY}  stop: [{{ run: x, retries: -1 }}]\n")),
        ("a file mode that is not octal", format!("{DEPLOY}  configure: [{{ template: t.j2, dest: d, mode: \"0999\" }}]\n")),
        ("a probe of two kinds", format!("{DEPLOY}  verify: [{{ http: \"http://127.0.0.1/\", tcp: \"127.0.0.1:80\" }}]\n")),
        ("a probe of no kind", format!("{DEPLOY}  verify: [{{ timeout: 5s }}]\n")),
        ("a batch that is neither count nor percent", format!("{DEPLOY}  rollout: {{ batches: [\"half\"] }}\n")),
        ("a secret from two sources", format!("{DEPLOY}secrets: {{ db: {{ env: DB, file: /x }} }}\n")),
        ("an alert reason of another kind", format!("{DEPLOY}notify: {{ webhook: {{ url: \"http://127.0.0.1/\", on: [critical] }} }}\n")),
        ("a check entry with two checks", "kind: check\nchecks:\n  - disk: { mount: / }\n    memory: {}\n".into()),
        ("a check entry with none", "kind: check\nchecks:\n  - name: nothing\n".into()),
        ("a threshold with two colons", "kind: check\nchecks:\n  - memory: { warn: \"1:2:3\" }\n".into()),
        ("a load with two levels", "kind: check\nchecks:\n  - load: { warn: [1, 2] }\n".into()),
        ("free space on inodes", "kind: check\nchecks:\n  - inodes: { free: { warn: 1GiB } }\n".into()),
        ("a relative mount", "kind: check\nchecks:\n  - disk: { mount: var }\n".into()),
        ("archive without its section", "kind: cleanup\nrules:\n  - { path: /var/log/app, match: [\"*.log\"], action: archive }\n".into()),
        ("an archive section on delete", "kind: cleanup\nrules:\n  - { path: /var/log/app, match: [\"*.log\"], action: delete, archive: { dest: /a, name: \"a-{{ date }}.tar.gz\" } }\n".into()),
        ("an empty match", "kind: cleanup\nrules:\n  - { path: /var/log/app, match: [], action: delete }\n".into()),
        ("a gzip level past 9", "kind: cleanup\nrules:\n  - { path: /var/log/app, match: [\"*.log\"], action: compress, level: 12 }\n".into()),
        ("a size that is not one", "kind: cleanup\nrules:\n  - { path: /var/log/app, match: [\"*.log\"], action: delete, min_size: lots }\n".into()),
        ("an unknown action", "kind: cleanup\nrules:\n  - { path: /var/log/app, match: [\"*.log\"], action: shred }\n".into()),
        ("no release kept", format!("{DEPLOY}  keep_releases: 0\n")),
        ("a retry count past u32", format!("{DEPLOY}  stop: [{{ run: x, retries: 4294967296 }}]\n")),
        ("a number as a bare command", format!("{DEPLOY}  stop: [5]\n")),
        ("an artifact from both a URL and a path", DEPLOY.replace("{ path: /var/artifacts/shop }", "{ path: /x, url: \"http://127.0.0.1/a.tar.gz\" }")),
        ("no checks", "kind: check\nchecks: []\n".into()),
        ("a threshold in words", "kind: check\nchecks:\n  - memory: { warn: high }\n".into()),
        ("mail to no one", "kind: check\nchecks:\n  - memory: {}\nnotify: { email: { to: [], from: t@example.org, smtp: { host: 127.0.0.1 } } }\n".into()),
        ("no rules", "kind: cleanup\nrules: []\n".into()),
        ("a target over 100%", "kind: cleanup\nrules:\n  - { path: /var/log/app, match: [\"*.log\"], action: delete }\nfree_space: { mount: /var/log, max_used_percent: 150 }\n".into()),
        ("one server", "kind: failover\nservers: [{ name: a, address: 127.0.0.1 }]\nprobe: { name: x.example }\nactive: { state_file: /tmp/a }\npromote: x\n".into()),
        ("no active source", "kind: failover\nservers: [{ name: a, address: 127.0.0.1 }, { name: b, address: 127.0.0.2 }]\nprobe: { name: x.example }\nactive: {}\npromote: x\n".into()),
        ("a fall of 0", "kind: failover\nservers: [{ name: a, address: 127.0.0.1 }, { name: b, address: 127.0.0.2 }]\nprobe: { name: x.example, fall: 0 }\nactive: { state_file: /tmp/a }\npromote: x\n".into()),
        ("a size as a percentage", "kind: check\nchecks:\n  - disk: { warn: 10GiB }\n".into()),
        ("a percentage of bytes", "kind: check\nchecks:\n  - disk: { free: { warn: 10% } }\n".into()),
        ("a percentage as an age", "kind: check\nchecks:\n  - file_age: { path: /etc/hostname, max_age: 50% }\n".into()),
        ("checks left empty", "kind: check\nchecks:\n".into()),
        ("a promote that is both", "kind: failover\nservers: [{ name: a, address: 127.0.0.1 }, { name: b, address: 127.0.0.2 }]\nprobe: { name: x.example }\nactive: { state_file: /tmp/a }\npromote: { run: x, resolv_conf: /etc/resolv.conf }\n".into()),
    ];
    let accepted: &[(&str, String)] = &[
        ("bare commands and empty lists", format!("{DEPLOY}  stop: [\"systemctl stop shop\"]\n  migrate: [\"./migrate up\"]\n  start:\n  verify: []\n")),
        ("hosts as strings and mappings", format!("{DEPLOY}hosts: [\"deploy@127.0.0.1:2222\", {{ name: web2, address: 127.0.0.2, vars: {{ weight: 3 }} }}]\n")),
        ("a mode as a number", format!("{DEPLOY}  configure: [{{ template: t.j2, dest: d, mode: 0640 }}]\n")),
        ("a size with a sign", "kind: cleanup\nrules:\n  - { path: /var/log/app, match: [\"*.log\"], action: delete, min_size: \"+5\" }\n".into()),
        ("an age in seconds", "kind: check\nchecks:\n  - file_age: { path: /etc/hostname, max_age: 90000 }\n".into()),
        ("a mode in YAML's octal", format!("{DEPLOY}  configure: [{{ template: t.j2, dest: d, mode: 0o640 }}]\n")),
        ("thresholds with units and spaces", "kind: check\nchecks:\n  - file_age: { path: /etc/hostname, warn: 1h 30m, max_age: \"2 days\" }\n  - disk: { free: { warn: \"10 GiB\", crit: 1.5GB } }\n  - memory: { warn: \"80%\", crit: \" @ 90 : 100 \" }\n  - prometheus: { url: \"http://127.0.0.1:9090\", query: up, crit: \"-1e3:.5\" }\n".into()),
        ("batches as counts and percents", format!("{DEPLOY}hosts: [127.0.0.1]\n").replace("  fetch:", "  rollout: { batches: [1, \"50%\"], on_failure: halt }\n  fetch:")),
        ("a channel with no `on:`", "kind: check\nchecks:\n  - memory: {}\nnotify:\n  email: { to: [oncall@example.org], from: tend@example.org, smtp: { host: 127.0.0.1, password: { env: SMTP_PASSWORD }, username: tend } }\n".into()),
        ("empty sections", "kind: check\nchecks:\n  - memory:\n  - cpu: {}\nnotify:\nalert:\n".into()),
        ("ranges and units as thresholds", "kind: check\nchecks:\n  - memory: { warn: \"~:80\", crit: \"@90:100\" }\n  - disk: { mount: [/], free: { warn: 10GiB, crit: 2GiB } }\n  - load: { warn: 4, crit: [10, 8, 6] }\n  - file_age: { path: /etc/hostname, max_age: 26h }\n".into()),
        ("a promote as a command", "kind: failover\nservers: [{ name: a, address: 127.0.0.1 }, { name: b, address: 127.0.0.2 }]\nprobe: { name: x.example }\nactive: { state_file: /tmp/a }\npromote: \"echo {{ standby.name }}\"\n".into()),
    ];
    let env = Env::new();
    std::fs::write(env.path("t.j2"), "x").unwrap();
    let mut instances = vec![];
    for (i, (what, yaml)) in refused.iter().chain(accepted).enumerate() {
        let file = env.write(&format!("c{i}.yaml"), yaml);
        let out = env.tend().arg("validate").arg(&file).output().unwrap();
        let refuses = i < refused.len();
        assert_eq!(
            !out.status.success(),
            refuses,
            "{what}: tend validate {}:\n{}",
            if refuses { "accepted it" } else { "refused it" },
            stderr(&out)
        );
        instances.push(as_json(yaml.as_bytes()).unwrap_or(Value::Null));
    }
    // The kind's own schema, as an editor given the playbook's modeline uses, and the one for
    // any kind; which takes every accepted form too, but not each kind's narrower lists.
    let mut own = vec![None; instances.len()];
    for kind in KINDS.iter().map(Some).chain([None]) {
        let of_kind =
            |doc: &Value| doc["kind"].as_str().filter(|k| KINDS.contains(k)) == kind.copied();
        let (at, docs): (Vec<usize>, Vec<Value>) = instances
            .iter()
            .enumerate()
            .filter(|(_, doc)| of_kind(doc))
            .map(|(i, doc)| (i, doc.clone()))
            .unzip();
        for (i, verdict) in at
            .into_iter()
            .zip(judge(&schema_file(kind.copied()), &docs))
        {
            own[i] = verdict;
        }
    }
    let any = judge(&schema_file(None), &instances);
    let cases = refused.iter().chain(accepted).enumerate();
    for ((i, (what, _)), (own, any)) in cases.zip(own.iter().zip(&any)) {
        let refuses = i < refused.len();
        assert_eq!(
            own.is_some(),
            refuses,
            "{what}: its kind's schema {}",
            own.as_deref().unwrap_or("accepted it")
        );
        if !refuses || !what.contains("another kind") {
            assert_eq!(
                any.is_some(),
                refuses,
                "{what}: the schema for any kind {any:?}"
            );
        }
    }
}

/// A schema redirected into a file on a full disk is an error, not a truncated file and exit 0;
/// a reader that stops early (`| head`) is not.
#[test]
fn a_schema_that_cannot_be_written_is_an_error() {
    let env = Env::new();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = env
        .tend_spawnable()
        .arg("schema")
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot write to stdout: no space left on device"),
        "{}",
        stderr(&out)
    );
    let mut child = env
        .tend_spawnable()
        .arg("schema")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}
