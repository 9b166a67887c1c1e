//! The loader, fed generated playbooks of every kind: trees built from the playbook grammar and
//! mutated (wrong types, unknown and deleted keys, huge and non-finite numbers, odd strings,
//! deep nesting, copied subtrees), and raw byte mutations of the shipped playbooks. Invariants:
//! no panic, no input slower than the limit, every error placed at a line and column inside its
//! file, and a valid deploy playbook planned without error.
//!
//! Inputs go through the real binary in batches (`tend validate f1 ... f50`), so a batch that
//! finishes within the limit proves every input in it did; a slower batch is timed input by
//! input. CI runs a bounded number; for a long run (README, "Testing"):
//!
//! ```sh
//! cargo build --release
//! TEND_FUZZ_BIN=target/release/tend TEND_FUZZ_LIMIT_MS=100 TEND_FUZZ_CASES=1000000 \
//!     cargo test fuzz -- --nocapture
//! ```
//!
//! `TEND_FUZZ_SEED` picks another stream of inputs. A failing input is kept under
//! `target/fuzz-failures/` and named in the panic.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_yaml::{Mapping, Value};
use wait_timeout::ChildExt;

const BATCH: usize = 50;
const STAND_IN: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// splitmix64: small, fast, and the same stream for the same seed everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Valid playbooks of every kind to start from: the shipped ones, and one per kind that uses
/// every key, each pointed at the fuzz directory and loopback.
fn bases(dir: &Path) -> Vec<String> {
    let root = crate::harness::repo_root().join("playbooks");
    let mut out: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    out.sort();
    let d = dir.display();
    out.push(format!(
        r#"kind: check
name: every-check
vars: {{ port: 8080, dir: "{d}" }}
timeout: 30s
checks:
  - cpu: {{ warn: 80, crit: 90, sample: 100ms }}
  - memory: {{ warn: "~:80", crit: "@90:100" }}
  - swap: {{ warn: 50, crit: 80 }}
  - disk: {{ mount: [/, "{d}"], free: {{ warn: 10GiB, crit: 2GiB }}, timeout: 2s }}
  - inodes: {{ mount: /, warn: 80, crit: 90 }}
  - load: {{ warn: [5, 4, 3], crit: [10, 8, 6], per_cpu: true }}
  - process: {{ name: sshd, min: 1 }}
  - file_age: {{ path: "{{{{ dir }}}}/last.ok", max_age: 26h }}
  - probe: {{ http: "http://127.0.0.1:{{{{ port }}}}/health", status: 200, body_contains: ok, timeout: 2s }}
    name: app health
    runbook: https://wiki.example.internal/app
    first_steps: ["systemctl status app"]
  - probe: {{ tcp: "127.0.0.1:5432", retries: 2, interval: 1s, successes: 2 }}
  - probe: {{ dns: {{ server: "127.0.0.1:53", name: shop.plant.internal, type: A, expect: [10.1.0.10] }} }}
  - probe: {{ command: "test -e {{{{ dir }}}}", plugin: true }}
notify:
  webhook: {{ url: "http://127.0.0.1:9/hook", on: [critical] }}
alert: {{ repeat: 1h }}
runbook: https://wiki.example.internal/host
first_steps: ["df -h"]
"#
    ));
    out.push(format!(
        r#"kind: deploy
name: shop
vars: {{ version: v2, port: 8080 }}
deploy:
  root: "{d}/srv/{{{{ version }}}}/.."
  release: "{{{{ version }}}}"
  keep_releases: 3
  fetch: {{ path: shop.tar.gz, sha256: "{STAND_IN}", strip_components: 1, max_unpacked_size: 1GiB }}
  stop: [{{ run: "bin/stop", timeout: 10s }}]
  migrate:
    - {{ name: catalog, run: "bin/migrate up {{{{ version }}}}", down: "bin/migrate down {{{{ version }}}}", timeout: 1m }}
    - {{ run: "bin/migrate up orders", backward_compatible: true }}
  start:
    - "bin/start --port {{{{ port }}}}"
    - {{ run: "echo {{{{ release }}}}", retries: 2, delay: 1s, ignore_errors: true }}
  verify:
    - {{ http: "http://127.0.0.1:{{{{ port }}}}/health", retries: 3, interval: 100ms }}
    - {{ command: "test -d {{{{ release_dir }}}}" }}
"#
    ));
    out.push(
        "kind: deploy
name: fleet
hosts:
  - deploy@127.0.0.11:2222
  - { name: web2, address: 127.0.0.12, user: app }
ssh: { user: ops, host_key_check: accept_new }
deploy:
  rollout: { batches: [1, \"50%\", \"100%\"], on_failure: rollback_all, max_failures: 0 }
  root: /srv/{{ host.name }}/shop
  release: v3
  fetch: { url: \"http://127.0.0.1:9/shop.tar.gz\", sha256: \"{{ sha256 }}\" }
  start: [\"bin/start\"]
"
        .to_string(),
    );
    out.push(format!(
        r#"kind: cleanup
name: logs
vars: {{ dir: "{d}/logs" }}
rules:
  - name: compress
    path: "{{{{ dir }}}}"
    match: ["*.log", "*.log.[0-9]*"]
    exclude: ["current.log"]
    older_than: 1d
    min_size: 1KiB
    keep_newest: 2
    action: compress
    level: 9
  - path: "{{{{ dir }}}}"
    match: ["*.gz"]
    older_than: 7d
    action: archive
    archive: {{ dest: "{d}/archive", name: "app-{{{{ date }}}}.tar.gz", group_by: week }}
  - path: "{d}/archive"
    match: ["*.tar.gz"]
    older_than: 90d
    action: delete
    expendable: true
free_space: {{ mount: "{d}", max_used_percent: 80 }}
"#
    ));
    out
}

const ODD_STRINGS: &[&str] = &[
    "",
    " ",
    "\t",
    "\n\n",
    "\u{202e}evil",
    "\u{feff}",
    "\u{0}",
    "\u{1b}[31m",
    "{{",
    "}}",
    "{{ x }}",
    "{{ version | raw }}",
    "{% raw %}",
    "{% for x in y %}",
    "{{ 1/0 }}",
    "{{ range(99999999) | list }}",
    "$(touch /tmp/tend-fuzz-x)",
    "'\"`;&|",
    "-",
    "~",
    "null",
    ".nan",
    "-.inf",
    "0x10",
    "1e400",
    "10:20",
    "@~:5",
    "5GiB",
    "1h",
    "-1s",
    "99999999999999999999h",
    "/",
    "../../etc/passwd",
    "http://",
    "127.0.0.1:99999",
    "🙂",
    "*",
    "&a",
];

fn odd_string(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => "a".repeat(rng.below(20_000)),
        1 => (0..rng.below(40))
            .map(|_| char::from_u32(rng.below(0x3000) as u32).unwrap_or('?'))
            .collect(),
        _ => rng.pick(ODD_STRINGS).to_string(),
    }
}

fn number(rng: &mut Rng) -> Value {
    let n: serde_yaml::Number = match rng.below(12) {
        0 => f64::NAN.into(),
        1 => f64::INFINITY.into(),
        2 => f64::NEG_INFINITY.into(),
        3 => f64::MAX.into(),
        4 => (-1e308).into(),
        5 => u64::MAX.into(),
        6 => i64::MIN.into(),
        7 => 5e-324.into(),
        8 => (-1).into(),
        9 => 0.into(),
        10 => (rng.next() as f64 / 7.0).into(),
        _ => (rng.below(200) as u64).into(),
    };
    Value::Number(n)
}

fn scalar(rng: &mut Rng) -> Value {
    match rng.below(5) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => number(rng),
        _ => Value::String(odd_string(rng)),
    }
}

/// A value of any shape, `depth` levels at most.
fn any(rng: &mut Rng, depth: usize) -> Value {
    if depth == 0 {
        return scalar(rng);
    }
    match rng.below(4) {
        0 => Value::Sequence((0..rng.below(4)).map(|_| any(rng, depth - 1)).collect()),
        1 => {
            let mut m = Mapping::new();
            for _ in 0..rng.below(4) {
                m.insert(Value::String(odd_string(rng)), any(rng, depth - 1));
            }
            Value::Mapping(m)
        }
        _ => scalar(rng),
    }
}

#[derive(Clone)]
enum Step {
    Key(Value),
    Index(usize),
}

fn paths(v: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Value::Mapping(m) => {
            for (k, child) in m {
                here.push(Step::Key(k.clone()));
                paths(child, here, out);
                here.pop();
            }
        }
        Value::Sequence(s) => {
            for (i, child) in s.iter().enumerate() {
                here.push(Step::Index(i));
                paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(v, |v, step| match (step, v) {
        (Step::Key(k), Value::Mapping(m)) => m.get_mut(k).expect("a path found in this tree"),
        (Step::Index(i), Value::Sequence(s)) => &mut s[*i],
        _ => unreachable!("paths follow the tree"),
    })
}

/// A key like `key` with a typo, or a made-up one.
fn near(rng: &mut Rng, key: &str) -> String {
    let mut chars: Vec<char> = key.chars().collect();
    if chars.len() >= 2 && rng.below(3) > 0 {
        let i = rng.below(chars.len() - 1);
        chars.swap(i, i + 1);
        chars.into_iter().collect()
    } else {
        format!("{key}{}", rng.pick(&["s", "_", "x", ""]))
    }
}

fn mutate_tree(rng: &mut Rng, v: &mut Value) {
    let mut all = vec![];
    paths(v, &mut vec![], &mut all);
    let path = rng.pick(&all).clone();
    let from: &Vec<Step> = rng.pick(&all);
    let from = from.clone();
    let copy = at(v, &from).clone();
    let node = at(v, &path);
    match rng.below(9) {
        0 => *node = scalar(rng),
        1 => *node = any(rng, 3),
        2 => *node = number(rng),
        3 => *node = Value::String(odd_string(rng)),
        4 => {
            // Past the nesting limit, or just under it.
            let mut deep = node.clone();
            for _ in 0..rng.pick(&[3, 63, 65, 200]).to_owned() {
                deep = Value::Sequence(vec![deep]);
            }
            *node = deep;
        }
        5 => *node = copy,
        _ => {
            if let Value::Mapping(m) = node {
                let keys: Vec<Value> = m.keys().cloned().collect();
                if let Some(k) = (!keys.is_empty()).then(|| rng.pick(&keys).clone()) {
                    if rng.below(2) == 0 {
                        m.remove(&k);
                    } else {
                        let typo = near(rng, k.as_str().unwrap_or("key"));
                        let value = m.get(&k).cloned().unwrap_or(Value::Null);
                        m.insert(Value::String(typo), value);
                    }
                }
            } else {
                *node = any(rng, 2);
            }
        }
    }
}

const INSERTS: &[&[u8]] = &[
    b":",
    b": ",
    b"\n",
    b"\t",
    b"- ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"&a ",
    b"*a",
    b"<<: *a\n",
    b"!!binary ",
    b"!<tag> ",
    b"? ",
    b"|\n",
    b">-\n",
    b"\"",
    b"'",
    b"#",
    b"---\n",
    b"...\n",
    b"%YAML 1.1\n",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xc3",
    b"\x00",
    b"{{",
    b"{%",
    b".nan",
    b"1e400",
    b"99999999999999999999999",
];

fn mutate_bytes(rng: &mut Rng, text: &mut Vec<u8>) {
    if text.is_empty() {
        let ins: &&[u8] = rng.pick(INSERTS);
        text.extend_from_slice(ins);
        return;
    }
    let at = rng.below(text.len() + 1);
    match rng.below(7) {
        0 if at < text.len() => text[at] ^= 1 << rng.below(8),
        1 => {
            let end = (at + rng.below(40)).min(text.len());
            text.drain(at..end);
        }
        2 => {
            let end = (at + rng.below(200)).min(text.len());
            let copy = text[at..end].to_vec();
            let to = rng.below(text.len() + 1);
            text.splice(to..to, copy);
        }
        3 => text.truncate(at),
        4 => {
            let deep = b"[".repeat(rng.pick(&[10usize, 64, 65, 5000]).to_owned());
            text.splice(at..at, deep);
        }
        _ => {
            let ins: &&[u8] = rng.pick(INSERTS);
            let ins = ins.to_vec();
            text.splice(at..at, ins);
        }
    }
}

fn case(rng: &mut Rng, bases: &[String]) -> Vec<u8> {
    let base = rng.pick(bases);
    if rng.below(2) == 0
        && let Ok(mut tree) = serde_yaml::from_str::<Value>(base)
    {
        for _ in 0..1 + rng.below(3) {
            mutate_tree(rng, &mut tree);
        }
        if let Ok(text) = serde_yaml::to_string(&tree) {
            return text.into_bytes();
        }
    }
    let mut text = base.clone().into_bytes();
    for _ in 0..1 + rng.below(4) {
        mutate_bytes(rng, &mut text);
    }
    text
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

fn tend(bin: &Path, dir: &Path, args: &[&std::ffi::OsStr], limit: Duration) -> Run {
    let (out, err) = (dir.join("out"), dir.join("err"));
    let started = Instant::now();
    let mut child = std::process::Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("TEND_STATE_DIR", dir.join("state"))
        .env("NO_COLOR", "1")
        .env_remove("TEND_OUTPUT")
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let code = match child.wait_timeout(limit).unwrap() {
        Some(status) => status.code(),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    };
    Run {
        code,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err).unwrap_or_default()).into_owned(),
        took: started.elapsed(),
    }
}

/// Keep `input` where a person can read it, and fail naming it.
fn fail(input: &[u8], seed: u64, why: &str) -> ! {
    let dir = crate::harness::repo_root().join("target/fuzz-failures");
    std::fs::create_dir_all(&dir).unwrap();
    let kept = dir.join(format!("case-{seed:016x}-{}.yaml", std::process::id()));
    std::fs::write(&kept, input).unwrap();
    panic!(
        "{why}\ninput kept in {} (seed {seed:#x}):\n{}",
        kept.display(),
        String::from_utf8_lossy(&input[..input.len().min(2000)])
    );
}

/// Is `line:col` inside `input`?
fn inside(input: &[u8], line: usize, col: usize) -> bool {
    let text = String::from_utf8_lossy(input);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let lines: Vec<&str> = text.split('\n').collect();
    line >= 1 && line <= lines.len() && col >= 1 && col <= lines[line - 1].chars().count() + 1
}

/// Where `tend validate` placed its error about `name`, if it placed one.
fn placed(stderr: &str, name: &str) -> Option<(usize, usize)> {
    let key = format!("--> {name}:");
    let at = stderr.find(&key)? + key.len();
    let rest = &stderr[at..];
    let end = rest.find('\n').unwrap_or(rest.len());
    let (line, col) = rest[..end].split_once(':')?;
    Some((line.parse().ok()?, col.parse().ok()?))
}

/// How many inputs were valid, and how many of them were planned.
#[derive(Default)]
struct Seen {
    valid: usize,
    planned: usize,
    /// Inputs the loader accepted, as JSON for the schema (kept up to a bound).
    accepted: Vec<(Vec<u8>, serde_json::Value)>,
}

/// Enough accepted inputs to judge the schema by, in one validator run.
const SCHEMA_CASES: usize = 20_000;

/// One batch: validated together, then each valid deploy planned.
fn batch(bin: &Path, dir: &Path, inputs: &[Vec<u8>], seed: u64, limit: Duration) -> Seen {
    let mut seen = Seen::default();
    let names: Vec<String> = (0..inputs.len()).map(|i| format!("c{i}.yaml")).collect();
    for (name, input) in names.iter().zip(inputs) {
        std::fs::write(dir.join(name), input).unwrap();
    }
    let mut args: Vec<&std::ffi::OsStr> = vec!["validate".as_ref()];
    args.extend(names.iter().map(std::ffi::OsStr::new));
    let run = tend(bin, dir, &args, limit * inputs.len() as u32);
    if !matches!(run.code, Some(0 | 64)) || run.took > limit {
        // A crash, a hang or a slow batch: find the input, timed alone.
        for (name, input) in names.iter().zip(inputs) {
            let alone = tend(bin, dir, &["validate".as_ref(), name.as_ref()], limit * 4);
            match alone.code {
                None => fail(input, seed, "validate hung"),
                Some(0 | 64) if alone.took <= limit => {}
                Some(0 | 64) => fail(
                    input,
                    seed,
                    &format!("validate took {:?}, over {limit:?}", alone.took),
                ),
                Some(c) => fail(
                    input,
                    seed,
                    &format!("validate exited {c}:\n{}", alone.stderr),
                ),
            }
        }
        if !matches!(run.code, Some(0 | 64)) {
            panic!("a batch failed that no input fails alone: {}", run.stderr);
        }
    }
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    for (name, input) in names.iter().zip(inputs) {
        let ok = run
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("ok: {name} (")));
        let Some(ok) = ok else {
            match placed(&run.stderr, name) {
                Some((line, col)) if inside(input, line, col) => continue,
                Some((line, col)) => fail(
                    input,
                    seed,
                    &format!("the error is placed at {line}:{col}, outside the file"),
                ),
                None => {
                    let alone = tend(bin, dir, &["validate".as_ref(), name.as_ref()], limit * 4);
                    fail(
                        input,
                        seed,
                        &format!("an error without a line and column:\n{}", alone.stderr),
                    )
                }
            }
        };
        seen.valid += 1;
        if let Some(doc) = crate::schema::as_json(input) {
            seen.accepted.push((input.clone(), doc));
        }
        if !ok.contains("(deploy, ") {
            continue;
        }
        seen.planned += 1;
        // Offline: a mutated host name must not send a DNS query anywhere.
        let mut plan: Vec<String> = vec!["plan".into(), "--offline".into(), name.clone()];
        if let Some(needed) = ok.split("required at deploy time: ").nth(1) {
            for var in needed.trim_end_matches(')').split(", ") {
                plan.push("--var".into());
                plan.push(format!("{var}={STAND_IN}"));
            }
        }
        let args: Vec<&std::ffi::OsStr> = plan.iter().map(|a| a.as_ref()).collect();
        let run = tend(bin, dir, &args, limit * 4);
        if run.code != Some(0) {
            fail(
                input,
                seed,
                &format!(
                    "validate accepted it, plan exited {:?}:\n{}",
                    run.code, run.stderr
                ),
            );
        }
    }
    seen
}

#[test]
fn fuzz_the_loader_with_generated_playbooks() {
    let cases = env_num("TEND_FUZZ_CASES", 4000) as usize;
    let seed = env_num("TEND_FUZZ_SEED", 0x7e4d_2026);
    let limit = Duration::from_millis(env_num("TEND_FUZZ_LIMIT_MS", 1000));
    // Absolute: each run's working directory is its fuzz directory.
    let bin = std::env::var_os("TEND_FUZZ_BIN")
        .map_or_else(|| assert_cmd::cargo::cargo_bin("tend"), PathBuf::from)
        .canonicalize()
        .expect("the tend binary to fuzz");
    let threads = if cases > 10_000 { 2 } else { 1 };
    let started = Instant::now();
    let seen = std::sync::Mutex::new(Seen::default());
    std::thread::scope(|s| {
        for t in 0..threads {
            let (bin, seen) = (&bin, &seen);
            s.spawn(move || {
                let env = crate::harness::Env::new();
                let dir = env.dir.path();
                for d in ["logs", "archive", "state"] {
                    std::fs::create_dir_all(dir.join(d)).unwrap();
                }
                let templates = crate::harness::repo_root().join("playbooks/templates");
                std::fs::create_dir_all(dir.join("templates")).unwrap();
                for e in std::fs::read_dir(templates).unwrap() {
                    let e = e.unwrap();
                    std::fs::copy(e.path(), dir.join("templates").join(e.file_name())).unwrap();
                }
                let bases = bases(dir);
                let mine = cases / threads + usize::from(t < cases % threads);
                let mut done = 0;
                let mut n = 0u64;
                while done < mine {
                    let batch_seed = seed ^ ((t as u64) << 56) ^ n;
                    let mut rng = Rng(batch_seed);
                    let size = BATCH.min(mine - done);
                    let inputs: Vec<Vec<u8>> = (0..size).map(|_| case(&mut rng, &bases)).collect();
                    let s = batch(bin, dir, &inputs, batch_seed, limit);
                    let mut all = seen.lock().unwrap();
                    all.valid += s.valid;
                    all.planned += s.planned;
                    let room = SCHEMA_CASES.saturating_sub(all.accepted.len());
                    all.accepted.extend(s.accepted.into_iter().take(room));
                    drop(all);
                    done += size;
                    n += 1;
                }
            });
        }
    });
    let seen = seen.into_inner().unwrap();
    eprintln!(
        "fuzz: {cases} generated playbooks in {:.1}s, none failed ({} valid, {} of them planned)",
        started.elapsed().as_secs_f64(),
        seen.valid,
        seen.planned
    );
    assert!(
        seen.valid > cases / 50 && seen.planned > 0,
        "the generator should keep some inputs valid"
    );
    // What the loader accepts, the schema an editor checks with must accept too.
    let docs: Vec<serde_json::Value> = seen.accepted.iter().map(|(_, d)| d.clone()).collect();
    let verdicts = crate::schema::judge(&crate::schema::schema_file(None), &docs);
    for ((input, _), verdict) in seen.accepted.iter().zip(verdicts) {
        if let Some(why) = verdict {
            fail(
                input,
                seed,
                &format!("the loader accepted it, the schema did not: {why}"),
            );
        }
    }
    eprintln!(
        "fuzz: the schema accepted all {} inputs the loader did",
        docs.len()
    );
}
