//! Probe checks against real servers on loopback, and what reaches the shell.

use crate::harness::{Env, http::HttpServer, stdout};

fn run(env: &Env, checks: &str) -> (i32, String) {
    env.check_nagios(&format!("kind: check\nchecks:\n{checks}"))
}

#[test]
fn http_probe_status_and_body() {
    let env = Env::new();
    let up = HttpServer::start(200, "status: healthy v2");
    let (code, text) = run(
        &env,
        &format!(
            "  - probe: {{ http: \"{}\", status: 200, body_contains: v2 }}\n",
            up.url("/health")
        ),
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("HTTP 200, body contains \\\"v2\\\"")
            || text.contains("HTTP 200, body contains \"v2\""),
        "{text}"
    );
    assert!(up.requests.lock().unwrap()[0].starts_with("GET /health HTTP/1.1"));

    let (code, text) = run(
        &env,
        &format!(
            "  - probe: {{ http: \"{}\", body_contains: v3 }}\n",
            up.url("/health")
        ),
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("does not contain"), "{text}");

    let down = HttpServer::start(503, "overloaded");
    let (code, text) = run(
        &env,
        &format!("  - probe: {{ http: \"{}\" }}\n", down.url("/")),
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("HTTP 503, expected 2xx"), "{text}");
}

#[test]
fn tcp_probe_to_a_closed_port_is_refused() {
    let env = Env::new();
    let port = crate::harness::free_port();
    let (code, text) = run(
        &env,
        &format!("  - probe: {{ tcp: \"127.0.0.1:{port}\", timeout: 2s }}\n"),
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("connection refused"), "{text}");
    let up = HttpServer::start(200, "");
    let (code, text) = run(
        &env,
        &format!("  - probe: {{ tcp: \"127.0.0.1:{}\" }}\n", up.port),
    );
    assert_eq!(code, 0, "{text}");
}

#[test]
fn command_probe_exit_status_decides() {
    let env = Env::new();
    let (code, text) = run(&env, "  - probe: { command: \"echo degraded; exit 3\" }\n");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("exit status 3: degraded"), "{text}");
    let (code, text) = run(
        &env,
        "  - probe: { command: \"sleep 5\", timeout: 300ms }\n",
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("timed out after 300ms"), "{text}");
}

#[test]
fn retries_wait_for_consecutive_successes() {
    let env = Env::new();
    // Fails the first time, then succeeds: a marker file counts the attempts.
    let marker = env.path("attempts");
    let cmd = format!("echo x >> {0}; test $(wc -l < {0}) -ge 2", marker.display());
    let (code, text) = run(
        &env,
        &format!("  - probe: {{ command: \"{cmd}\", retries: 3, interval: 10ms, successes: 2 }}\n"),
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap().lines().count(),
        3,
        "1 failure + 2 successes"
    );
}

#[test]
fn vars_are_shell_quoted_in_commands() {
    let env = Env::new();
    let pwned = env.path("pwned");
    let p = env.write(
        "q.yaml",
        "kind: check\nvars: { msg: hello }\nchecks:\n  - probe: { command: \"echo {{ msg }}\" }\n",
    );
    let evil = format!("v2; touch {}", pwned.display());
    let out = env
        .tend()
        .args(["check", "--output", "nagios", "--var"])
        .arg(format!("msg={evil}"))
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!("exit status 0: {evil}")),
        "{}",
        stdout(&out)
    );
    assert!(!pwned.exists(), "the value must stay one argument");
    // `| raw` opts out, on purpose.
    let p = env.write(
        "r.yaml",
        "kind: check\nchecks:\n  - probe: { command: \"{{ cmd | raw }}\" }\n",
    );
    env.tend()
        .args(["check", "--var"])
        .arg(format!("cmd=touch {}", pwned.display()))
        .arg(&p)
        .assert()
        .code(0);
    assert!(pwned.exists());
}

#[test]
fn secrets_are_redacted_in_output_and_journal() {
    let env = Env::new();
    let p = env.write(
        "s.yaml",
        "kind: check\nsecrets:\n  token: { env: TEND_TEST_TOKEN }\nchecks:\n  - probe: { command: \"echo using {{ token }}; exit 1\" }\n",
    );
    let out = env
        .tend()
        .args(["-v", "check", "--output", "plain"])
        .arg(&p)
        .env("TEND_TEST_TOKEN", "hunter2-s3cret")
        .output()
        .unwrap();
    let all = format!("{}{}", stdout(&out), crate::harness::stderr(&out));
    assert!(all.contains("using ***"), "{all}");
    assert!(!all.contains("hunter2-s3cret"), "{all}");
    for entry in std::fs::read_dir(env.state().join("journal")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(
            text.contains("using ***") && !text.contains("hunter2"),
            "{text}"
        );
    }
    // A secret that cannot be read is UNKNOWN, with the playbook line.
    let out = env
        .tend()
        .args(["check"])
        .arg(&p)
        .env_remove("TEND_TEST_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = crate::harness::stderr(&out);
    assert!(
        err.contains("cannot read secret 'token': environment variable TEND_TEST_TOKEN is not set"),
        "{err}"
    );
    assert!(err.contains("s.yaml:3:"), "{err}");
}

#[test]
fn dns_probe_answers_and_nxdomain() {
    use crate::harness::dns::{Dnsmasq, NAME};
    let env = Env::new();
    let good = Dnsmasq::start(env.dir.path(), "good", Some("10.1.0.10"));
    let empty = Dnsmasq::start(env.dir.path(), "empty", None);
    let probe = |server: &Dnsmasq, expect: &str| {
        format!(
            "  - probe: {{ dns: {{ server: \"{}\", name: {NAME}, type: A, expect: [{expect}] }}, timeout: 1s }}\n",
            server.address()
        )
    };
    let (code, text) = run(&env, &probe(&good, "10.1.0.10"));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("answered 10.1.0.10"), "{text}");
    let (code, text) = run(&env, &probe(&good, "10.1.0.11"));
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("wrong answer: 10.1.0.10"), "{text}");
    let (code, text) = run(&env, &probe(&empty, "10.1.0.10"));
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("NXDOMAIN"), "{text}");
}

#[test]
fn a_nagios_plugin_keeps_its_meaning_with_plugin_true() {
    let env = Env::new();
    let plugins = "/usr/lib/nagios/plugins";
    // Without `plugin: true`, any failure is CRITICAL.
    let (code, text) = run(
        &env,
        &format!("  - probe: {{ command: \"{plugins}/check_dummy 1 'disk low'\" }}\n"),
    );
    assert_eq!(code, 2, "{text}");
    for (status, word) in [(0, "OK"), (1, "WARNING"), (2, "CRITICAL"), (3, "UNKNOWN")] {
        let (code, text) = run(
            &env,
            &format!(
                "  - probe: {{ command: \"{plugins}/check_dummy {status} 'disk low'\", plugin: true }}\n    name: dummy\n"
            ),
        );
        assert_eq!(code, status, "{text}");
        assert!(
            text.starts_with(&format!("TEND {word} - dummy {word}: disk low")),
            "{text}"
        );
    }
    // A plugin's own perfdata is kept, before tend's time.
    let (code, text) = run(
        &env,
        &format!(
            "  - probe: {{ command: \"{plugins}/check_load -w 1000,1000,1000 -c 2000,2000,2000\", plugin: true }}\n    name: load\n"
        ),
    );
    assert_eq!(code, 0, "{text}");
    let perf = text.split_once(" | ").map_or("", |(_, p)| p);
    assert!(
        perf.starts_with("'load1'=")
            && perf.contains(";1000.000;2000.000;0 ")
            && perf.contains("'time_load'="),
        "{text}"
    );
    // A plugin that runs past its timeout is UNKNOWN, as Nagios reports it.
    let (code, text) = run(
        &env,
        "  - probe: { command: \"sleep 5\", plugin: true, timeout: 300ms }\n",
    );
    assert_eq!(code, 3, "{text}");
    // `plugin` applies to commands only.
    let (code, text) = run(&env, "  - probe: { tcp: \"127.0.0.1:1\", plugin: true }\n");
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains("`plugin: true` applies to `command` probes"),
        "{text}"
    );
}

#[test]
fn a_check_name_with_perfdata_syntax_is_made_safe_in_the_label() {
    let env = Env::new();
    let up = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = up.local_addr().unwrap().port();
    let (code, text) = run(
        &env,
        &format!(
            "  - probe: {{ tcp: \"127.0.0.1:{port}\" }}\n    name: \"bob's app = fine|bar\"\n"
        ),
    );
    assert_eq!(code, 0, "{text}");
    let (status, perf) = text.split_once(" | ").unwrap();
    assert!(status.contains("bob's app = fine/bar"), "{text}");
    assert!(perf.starts_with("'time_bob_s app _ fine_bar'="), "{text}");
    assert_eq!(text.matches('|').count(), 1, "{text}");
}

#[test]
fn a_playbook_named_without_a_directory_runs_its_secret_command_where_it_is() {
    let env = Env::new();
    env.write(
        "sc.yaml",
        "kind: check\nsecrets:\n  pw: { command: \"echo s3cretvalue\" }\nchecks:\n  - probe: { command: \"test {{ pw }} = s3cretvalue\" }\n",
    );
    let out = env
        .tend()
        .args(["check", "--output", "nagios", "sc.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn a_password_in_an_http_probe_url_reaches_the_server_as_it_is() {
    let env = Env::new();
    let server = crate::harness::http::HttpServer::start(200, "ok");
    let secret = "pa@127.0.0.2:1/x#y";
    let p = env.write(
        "check.yaml",
        &format!(
            "kind: check\nsecrets: {{ k: {{ env: K }} }}\nchecks:\n  - probe: {{ http: \"http://u:{{{{ k }}}}@127.0.0.1:{}/health\" }}\n",
            server.port
        ),
    );
    let out = env
        .tend()
        .args(["check", "--output", "nagios"])
        .arg(&p)
        .env("K", secret)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::harness::stdout(&out)
    );
    let seen = server.requests.lock().unwrap().join("\n");
    assert!(seen.starts_with("GET /health "), "{seen}");
    let basic = data_encoding::BASE64.encode(format!("u:{secret}").as_bytes());
    assert!(
        seen.to_ascii_lowercase().contains(&format!(
            "authorization: basic {}",
            basic.to_ascii_lowercase()
        )),
        "{seen}"
    );
}
