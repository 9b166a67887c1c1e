//! The injection corpus: hostile values in every quoting context of every command-bearing key.
//! Each value is a variable; each key's command writes every value, in every context, to a
//! file of its own. Nothing the values say may ever run (a marker file would appear), and each
//! file must hold exactly what the playbook meant as data.

use std::path::{Path, PathBuf};

use crate::harness::dns::Dnsmasq;
use crate::harness::failover::GOOD;
use crate::harness::{Env, stderr};

/// The hostile values; each tries to create `mark` if it ever becomes code.
fn corpus(mark: &Path) -> Vec<String> {
    let m = mark.display();
    [
        format!("$(touch {m})"),
        format!("`touch {m}`"),
        format!("; touch {m}"),
        format!("&& touch {m}"),
        format!("| touch {m}"),
        format!("' ; touch {m} ; '"),
        format!("\" ; touch {m} ; \""),
        format!("'\"'\"'; touch {m}; '\"'\"'"),
        format!("\\'; touch {m}; \\'"),
        format!("\\\"; touch {m}; \\\""),
        format!("x\ntouch {m}\n"),
        format!("x\r\ntouch {m}"),
        format!("'$(touch {m})'"),
        format!("\"$(touch {m})\""),
        format!(") ; (touch {m})"),
        format!("${{IFS}}touch${{IFS}}{m}"),
        format!("TEND_END\ntouch {m}\nTEND_END"),
        format!("\\$(touch {m})"),
        format!("$'\\x41'; touch {m}"),
        "trailing backslash \\".into(),
        "\\\\".into(),
        "*".into(),
        "-rf".into(),
        "--help".into(),
        "$HOME ${HOME}".into(),
        "$((1+1))".into(),
        "~root".into(),
        "a  b   c".into(),
        "\ttab".into(),
        "# not a comment".into(),
        "!! !$".into(),
        "{a,b}".into(),
        "=a=b".into(),
        "ünïcødé ✓".into(),
        String::new(),
    ]
    .to_vec()
}

/// Each quoting context: a command writing `{{ v }}` to `OUT`, and what the file then holds.
const CONTEXTS: &[(&str, &str, &str)] = &[
    ("bare", "printf '%s' V > OUT", "V"),
    ("double", "printf '%s' \"V\" > OUT", "V"),
    ("single", "printf '%s' 'V' > OUT", "V"),
    (
        "mixed",
        "printf '%s' pre\"V\"mid'V'postV > OUT",
        "preVmidVpostV",
    ),
    (
        "subst",
        "r=$(printf '%s' V; printf x); printf '%s' \"${r%x}\" > OUT",
        "V",
    ),
    (
        "subst-in-double",
        "r=\"$(printf '%s' \"V\"; printf x)\"; printf '%s' \"${r%x}\" > OUT",
        "V",
    ),
    ("heredoc", "cat > OUT <<TEND_END\nV\nTEND_END", "V\n"),
    (
        "heredoc-quoted",
        "cat > OUT <<'TEND_END'\nV\nTEND_END",
        "V\n",
    ),
    ("single-in-double", "printf '%s' \"it's V\" > OUT", "it's V"),
];

/// The values the corpus refuses in a context rather than quote: there, the playbook is refused.
fn refused(ctx: &str, value: &str) -> bool {
    ctx.starts_with("heredoc") && value.lines().any(|l| l == "TEND_END")
}

/// The script a key runs: every value in every context, into `out/KEY/`.
fn script(key: &str, values: &[String]) -> String {
    let mut lines = vec![format!("mkdir -p {{{{ out }}}}/{key}")];
    for (i, v) in values.iter().enumerate() {
        for (ctx, line, _) in CONTEXTS {
            if refused(ctx, v) {
                continue;
            }
            lines.push(
                line.replace('V', &format!("{{{{ v{i} }}}}"))
                    .replace("OUT", &format!("{{{{ out }}}}/{key}/{ctx}_{i}")),
            );
        }
    }
    lines.join("\n")
}

/// `script` as a YAML block scalar at `indent` spaces.
fn block(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let body: Vec<String> = text.lines().map(|l| format!("{pad}{l}")).collect();
    format!("|\n{}", body.join("\n"))
}

struct Corpus {
    env: Env,
    values: Vec<String>,
    mark: PathBuf,
}

impl Corpus {
    fn new() -> Corpus {
        let env = Env::new();
        let mark = env.path("pwned");
        let values = corpus(&mark);
        let mut vars = serde_json::Map::new();
        for (i, v) in values.iter().enumerate() {
            vars.insert(format!("v{i}"), v.clone().into());
        }
        vars.insert("out".into(), env.path("out").display().to_string().into());
        env.write("values.json", &serde_json::Value::Object(vars).to_string());
        Corpus { env, values, mark }
    }

    fn script(&self, key: &str) -> String {
        script(key, &self.values)
    }

    /// Every value arrived as written, in every context, for `key`; nothing ran.
    fn assert_exact(&self, key: &str) {
        assert!(!self.mark.exists(), "a value ran as code (key {key})");
        for (i, v) in self.values.iter().enumerate() {
            for (ctx, _, expect) in CONTEXTS {
                if refused(ctx, v) {
                    continue;
                }
                let file = self.env.path(&format!("out/{key}/{ctx}_{i}"));
                let got = std::fs::read(&file)
                    .unwrap_or_else(|e| panic!("{key} {ctx} value {i} {v:?}: {e}"));
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    expect.replace('V', v),
                    "{key}, {ctx}, value {i} {v:?}"
                );
            }
        }
    }

    /// `tend ARGS --vars-file values.json`.
    fn run(&self, args: &[&str]) -> std::process::Output {
        self.env
            .tend()
            .args(args)
            .arg("--vars-file")
            .arg(self.env.path("values.json"))
            .output()
            .unwrap()
    }
}

#[test]
fn hostile_values_in_every_quoting_context_of_every_command_key_stay_data() {
    let c = Corpus::new();
    // deploy: stop, migrate, down, start, verify and a secret's command. v2's verify fails, so
    // its rollback runs the stop, the down, v1's start and verify.
    let app = c.env.path("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("README"), "an app\n").unwrap();
    let status = std::process::Command::new("tar")
        .args(["-czf", "app.tar.gz", "-C"])
        .arg(&app)
        .arg(".")
        .current_dir(c.env.dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    c.env.write(
        "deploy.yaml",
        &format!(
            "kind: deploy
name: corpus
secrets:
  token:
    command: {secret}
deploy:
  root: {root}
  release: \"{{{{ version }}}}\"
  fetch: {{ path: app.tar.gz }}
  stop:
    - {stop}
  migrate:
    - run: {migrate}
      down: {down}
  start:
    - {start}
  verify:
    - command: {verify}
",
            secret = block(&(c.script("secret") + "\necho the-token-value"), 8),
            root = c.env.path("srv").display(),
            stop = block(&c.script("stop"), 8),
            migrate = block(&c.script("migrate"), 8),
            down = block(&c.script("down"), 8),
            start = block(&c.script("start"), 8),
            verify = block(&(c.script("verify") + "\ntest {{ release }} != v2"), 8),
        ),
    );
    let out = c.run(&["deploy", "deploy.yaml", "--var", "version=v1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = c.run(&["deploy", "deploy.yaml", "--var", "version=v2"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("rolled back to v1, which is running and verified"),
        "{err}"
    );
    for key in ["secret", "stop", "migrate", "down", "start", "verify"] {
        c.assert_exact(key);
    }

    // check: a command probe.
    c.env.write(
        "check.yaml",
        &format!(
            "kind: check\nchecks:\n  - probe:\n      command: {}\n",
            block(&c.script("check"), 8)
        ),
    );
    let out = c.run(&["check", "--output", "nagios", "check.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    c.assert_exact("check");

    // check: a remedy's command, set off by a check that fails (and fails again after it).
    c.env.write(
        "remedy.yaml",
        &format!(
            "kind: check\nchecks:\n  - probe: {{ command: \"false\" }}\n    remedy:\n      run: {}\n",
            block(&c.script("remedy"), 8)
        ),
    );
    let out = c.run(&["check", "--output", "nagios", "--no-notify", "remedy.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    c.assert_exact("remedy");

    // failover: the active command, the fence and the promotion; then, with a fence that
    // fails, the forced promotion.
    let mut dns1 = Dnsmasq::start(c.env.dir.path(), "dns1", Some(GOOD));
    let dns2 = Dnsmasq::start(c.env.dir.path(), "dns2", Some(GOOD));
    dns1.kill();
    let failover = |name: &str, fence: String, promote: &str| {
        c.env.write(
            name,
            &format!(
                "kind: failover
servers:
  - {{ name: dns1, address: \"{}\" }}
  - {{ name: dns2, address: \"{}\" }}
probe: {{ name: exoticplant.plant, type: A, expect: [{GOOD}], timeout: 300ms, attempts: 1, interval: 50ms, fall: 1, rise: 1 }}
active:
  command: {}
fence: {fence}
{promote}
",
                dns1.address(),
                dns2.address(),
                block(&(c.script("active") + "\necho dns1"), 4),
            ),
        );
    };
    failover(
        "failover.yaml",
        block(&c.script("fence"), 2),
        &format!("promote: {}", block(&c.script("promote"), 2)),
    );
    let out = c.run(&["failover", "--now", "failover.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for key in ["active", "fence", "promote"] {
        c.assert_exact(key);
    }
    failover(
        "forced.yaml",
        "\"false\"".into(),
        &format!(
            "promote: \"true\"\npromote_forced: {}",
            block(&c.script("promote_forced"), 2)
        ),
    );
    let out = c.run(&["failover", "--now", "forced.yaml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("promote dns2 (forced)"), "{err}");
    c.assert_exact("promote_forced");

    // drill: the stop command that takes the active down, and the restore that brings it back.
    let dns3 = Dnsmasq::start(c.env.dir.path(), "dns3", Some(GOOD));
    let dns4 = Dnsmasq::start(c.env.dir.path(), "dns4", Some(GOOD));
    let resolv = c.env.write(
        "resolv.conf",
        &format!("nameserver {}\nnameserver {}\n", dns3.ip, dns4.ip),
    );
    c.env.write(
        "drill.yaml",
        &format!(
            "kind: failover
servers:
  - {{ name: dns3, address: \"{}\" }}
  - {{ name: dns4, address: \"{}\" }}
probe: {{ name: exoticplant.plant, type: A, expect: [{GOOD}], timeout: 300ms, attempts: 1, interval: 50ms, fall: 1, rise: 1 }}
active: {{ resolv_conf: {r} }}
fence: \"true\"
promote: {{ resolv_conf: {r} }}
drill:
  allowed: true
  method: stop_command
  stop_command: {}
  restore: {}
",
            dns3.address(),
            dns4.address(),
            block(&(c.script("drill_stop") + "\nkill -STOP $(cat {{ active.name }}.pid)"), 4),
            block(&(c.script("drill_restore") + "\nkill -CONT $(cat {{ active.name }}.pid)"), 4),
            r = resolv.display(),
        ),
    );
    let out = c.run(&["drill", "drill.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for key in ["drill_stop", "drill_restore"] {
        c.assert_exact(key);
    }
}

/// `tend validate` on a deploy whose start command is `command`, with `vars` (name, value) in a
/// vars file (a value may hold what no command line can, like NUL).
fn validate_start(command: &str, vars: &[(&str, &str)]) -> (i32, String) {
    let env = Env::new();
    env.write(
        "d.yaml",
        &format!(
            "kind: deploy\nvars: {{ msg: hi }}\ndeploy:\n  root: /srv/app\n  release: v1\n  fetch: {{ path: app.tar.gz }}\n  start:\n    - {}\n",
            serde_json::to_string(command).unwrap()
        ),
    );
    let map: serde_json::Map<String, serde_json::Value> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    env.write("vars.json", &serde_json::Value::Object(map).to_string());
    let out = env
        .tend()
        .args(["validate", "d.yaml", "--vars-file", "vars.json"])
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), stderr(&out))
}

#[test]
fn a_placeholder_where_no_quoting_is_safe_is_refused_with_a_caret_under_it() {
    let (code, err) = validate_start("echo {{ msg }} `date -d {{ msg }}`", &[]);
    assert_eq!(code, 64, "{err}");
    assert_eq!(
        err,
        "error: cannot put this value into the command: the placeholder is inside backticks, where no quoting of a value is safe
 --> d.yaml:8:32
  |
8 |     - \"echo {{ msg }} `date -d {{ msg }}`\"
  |                                ^^^^^^^^^
  = hint: use $(...) instead of backticks: tend quotes values inside it
"
    );
    for (command, why) in [
        ("echo ${X:-{{ msg }}}", "inside ${...}"),
        ("echo $'{{ msg }}'", "bash and dash"),
        ("echo \\{{ msg }}", "follows a backslash"),
        ("echo ${{ msg }}", "follows a `$`"),
        ("echo $HOME{{ msg }}", "follows $NAME"),
        ("echo $'it\\'s' {{ msg }}", "bash and dash"),
        ("sh -c 'echo {{ msg }}'", "reads the value again"),
        ("eval \"echo {{ msg }}\"", "eval"),
        ("printf '%s' {{ msg }} | sh", "piped into a shell"),
        ("cat <<{{ msg }}\nx\n", "delimiter"),
        // What a second shell reads later or joins into a command line.
        ("trap 'rm -f {{ msg }}' EXIT; true", "hands to a shell"),
        ("trap \"rm -f {{ msg }}\" EXIT; true", "hands to a shell"),
        ("watch -g 'ls {{ msg }}'", "hands to a shell"),
        ("sg root -c 'ls {{ msg }}'", "hands to a shell"),
        (
            "script -qc 'ls {{ msg }}' /dev/null",
            "reads the value again",
        ),
        ("\"sh\" -c 'printf %s {{ msg }}'", "reads the value again"),
        ("$SHELL -c 'printf %s {{ msg }}'", "reads the value again"),
        (
            "cat <<EOF | sh\nprintf '%s\\n' {{ msg }}\nEOF",
            "here-document",
        ),
        ("echo \"{{ msg }}", "a `\"` is never closed"),
    ] {
        let (code, err) = validate_start(command, &[]);
        assert_eq!(code, 64, "{command}: {err}");
        assert!(err.contains(why), "{command}: {err}");
    }
}

#[test]
fn values_that_cannot_be_data_where_they_land_are_refused() {
    // A value with the delimiter's line would end the here-document.
    let (code, err) = validate_start("cat <<EOF\n{{ msg }}\nEOF", &[("msg", "x\nEOF\nrm -rf /")]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("has a line `EOF`"), "{err}");
    // Values side by side that together make the delimiter's line.
    let env_cmd = "cat <<'EOF'\n{{ a }}{{ b }}\nEOF";
    let (code, err) = validate_start(env_cmd, &[("a", "x\nEO"), ("b", "F\nrm -rf /")]);
    assert_eq!(code, 64, "{err}");
    assert!(
        err.contains("with its values in, the here-document has a line `EOF`"),
        "{err}"
    );
    // A comment ends at a line break.
    let (code, err) = validate_start("true # {{ msg }}", &[("msg", "x\nrm -rf /")]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("end the comment"), "{err}");
    // Arithmetic evaluates what it is given (bash runs $(...) in an array index).
    let (code, err) = validate_start("echo $(( {{ msg }} + 1 ))", &[("msg", "a[$(id)]")]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("whole number"), "{err}");
    let (code, err) = validate_start("echo $(( {{ msg }} + 1 ))", &[("msg", "41")]);
    assert_eq!(code, 0, "{err}");
    // NUL cannot be an argument at all.
    let (code, err) = validate_start("echo {{ msg }}", &[("msg", "a\u{0}b")]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("NUL"), "{err}");
    // `{% autoescape false %}` is not a third opt-out: the value is still quoted.
    let env = Env::new();
    let mark = env.path("PWNED");
    env.write(
        "d.yaml",
        "kind: check\nchecks:\n  - name: t\n    probe: { command: \"{% autoescape false %}echo {{ msg }}{% endautoescape %}\" }\n",
    );
    let out = env
        .tend()
        .args(["check", "d.yaml", "--var"])
        .arg(format!("msg=$(touch {})", mark.display()))
        .output()
        .unwrap();
    assert!(!mark.exists(), "{}", stderr(&out));
    // `| raw` and `| safe` are the opt-outs: the value is shell code.
    for filter in ["raw", "safe"] {
        let (code, err) = validate_start(
            &format!("echo `date -d {{{{ msg | {filter} }}}}`"),
            &[("msg", "now")],
        );
        assert_eq!(code, 0, "{filter}: {err}");
    }
}

/// The quoting contexts of a PromQL query: a value in a string, double or single quoted. (As
/// label_join's separator between two absent labels it comes back as the label `got`, as is.)
const PROMQL_CONTEXTS: &[&str] = &[
    r#"label_join(vector(1), "got", "V", "a", "b")"#,
    r#"label_join(vector(1), "got", 'V', "a", "b")"#,
];

#[test]
fn hostile_values_in_a_promql_query_arrive_as_the_label_value_they_are() {
    let env = Env::new();
    let prom = crate::harness::prometheus::Prometheus::start(env.dir.path(), &[]);
    // An empty value makes no label.
    let values: Vec<String> = corpus(&env.path("never"))
        .into_iter()
        .filter(|v| !v.is_empty())
        .chain([
            r#"web1"} or vector(0) or {x=""#.to_string(),
            r"\u0041 \x41 \101".to_string(),
            "\"'`".to_string(),
        ])
        .collect();
    let mut checks = String::new();
    let mut vars = String::new();
    for (c, ctx) in PROMQL_CONTEXTS.iter().enumerate() {
        for i in 0..values.len() {
            let query = ctx.replace('V', &format!("{{{{ v{i} }}}}"));
            checks += &format!(
                "  - name: c{c}v{i}\n    prometheus: {{ url: \"{}\", query: {}, crit: 2 }}\n",
                prom.url(),
                serde_json::to_string(&query).unwrap()
            );
        }
    }
    for (i, v) in values.iter().enumerate() {
        vars += &format!("  v{i}: {}\n", serde_json::to_string(v).unwrap());
    }
    let p = env.write(
        "check.yaml",
        &format!("kind: check\nvars:\n{vars}checks:\n{checks}"),
    );
    let out = env
        .tend()
        .args(["check", "--output", "json"])
        .arg(&p)
        .output()
        .unwrap();
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    for (c, _) in PROMQL_CONTEXTS.iter().enumerate() {
        for (i, v) in values.iter().enumerate() {
            let name = format!("c{c}v{i}");
            let check = doc["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == name.as_str())
                .unwrap_or_else(|| panic!("no check {name}"));
            assert_eq!(
                check["summary"].as_str().unwrap(),
                format!("1 {{got={v:?}}}"),
                "{name}: {v:?}"
            );
        }
    }
}
