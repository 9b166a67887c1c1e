//! Metric-gated deploys against a real Prometheus scraping the shipped app's /metrics every
//! second: a release that answers /health but fails a share of its requests is caught by its
//! analysis and rolled back.

use std::io::BufRead;

use crate::harness::deploy::Shop;
use crate::harness::fleet::Fleet;
use crate::harness::prometheus::Prometheus;
use crate::harness::run::{Run, Runs};

/// The ratio of failed requests of the release being deployed, on this host: no series until
/// the new release has been scraped.
const QUERY: &str = r#"max(shop_error_ratio{host="{{ host.name }}", version="{{ release }}"})"#;

/// The shop on this machine with v1 deployed, scraped by a Prometheus as host "shop", and then
/// given `analysis` (the `prometheus:` mapping's keys after url and query) as a verify gate.
fn gated(query: &str, analysis: &str) -> (Shop, Prometheus) {
    let shop = Shop::new();
    let prom = Prometheus::start(shop.env.dir.path(), &[("shop", shop.port)]);
    deploy_erring(&shop, "v1", 0.0).code(0);
    gate(&shop, &prom, query, analysis);
    (shop, prom)
}

/// The gate added to the shop's `verify`.
fn gate(shop: &Shop, prom: &Prometheus, query: &str, analysis: &str) {
    let path = shop.env.path("shop.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let query = query.replace("{{ host.name }}", "shop");
    let gate = format!(
        "    - prometheus: {{ name: errors, url: \"{}\", query: '{query}', {analysis} }}\n",
        prom.url()
    );
    std::fs::write(&path, text + &gate).unwrap();
}

/// `tend deploy shop.yaml --output plain` of version `v` (packed as `sha`), with `act` done
/// once a line of its stderr holds `marker` (given tend's pid): its exit code and all it said.
fn deploy_acting_at(
    shop: &Shop,
    v: &str,
    sha: &str,
    marker: &str,
    act: impl FnOnce(u32),
) -> (Option<i32>, String) {
    let mut child = shop
        .env
        .tend_spawnable()
        .args(["deploy", "shop.yaml", "--output", "plain", "--var"])
        .arg(format!("version={v}"))
        .arg(format!("--var=sha={sha}"))
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(marker) {
            break;
        }
    }
    act(child.id());
    for line in lines {
        seen.push_str(&line.unwrap());
        seen.push('\n');
    }
    (child.wait().unwrap().code(), seen)
}

const FAST: &str = r#"success: "result < 0.05", failure: "result >= 0.1", interval: 300ms, count: 3, initial_delay: 1500ms"#;

fn deploy_erring(shop: &Shop, v: &str, ratio: f64) -> Run {
    let sha = shop.artifact_erring(v, ratio);
    Run::of(
        &shop
            .env
            .tend()
            .args(["deploy", "shop.yaml", "--output", "plain", "--var"])
            .arg(format!("version={v}"))
            .arg("--var")
            .arg(format!("sha={sha}"))
            .output()
            .unwrap(),
    )
}

#[test]
fn a_release_that_raises_the_error_rate_is_rolled_back_though_its_health_check_passes() {
    let (shop, prom) = gated(QUERY, FAST);
    deploy_erring(&shop, "v2", 0.0)
        .code(0)
        .stderr_has("ok      verify analysis errors: success: 3 measurements passed");
    // The plan shows the gate, its schedule and the longest it can take.
    let sha = shop.artifact_erring("v3", 0.2);
    shop.env
        .tend()
        .args(["plan", "shop.yaml", "--var", "version=v3"])
        .arg(format!("--var=sha={sha}"))
        .run()
        .code(0)
        .stdout_has(&format!(
            r#"verify analysis errors: max(shop_error_ratio{{host="shop", version="v3"}}) at {}; success: result < 0.05, failure: result >= 0.1; 3 measurements, 300ms apart, after 1s 500ms; at most 32s 100ms"#,
            prom.url()
        ));
    let before = prom.queries();
    let run = deploy_erring(&shop, "v3", 0.2);
    run.code(1)
        .stderr_has("ok      verify http://127.0.0.1")
        .stderr_has("measure verify analysis errors: errors #1/3 0.2 → failure (failure: result >= 0.1)")
        .stderr_has("failed  verify analysis errors: failure: 1 of 1 measurements failed (failure_limit 0); last values 0.2")
        .stderr_has(&format!("graph: {}/graph?g0.expr=max%28shop_error_ratio", prom.url()))
        .stderr_has("ok      rollback: verify http://127.0.0.1");
    assert_eq!(shop.current(), "releases/v2");
    assert!(shop.health().unwrap().contains("version=v2"));
    assert_eq!(
        shop.journal()["releases"][2]["rolled_back_to"]["release"],
        "v2",
        "{}",
        shop.journal()
    );
    // The analysis stopped at its first failure: one query, no more.
    assert_eq!(prom.queries() - before, 1);
    // The journal keeps the curve the rollback was decided on.
    let id = run
        .stderr()
        .lines()
        .find_map(|l| Some(l.split("(run ").nth(1)?.trim_end_matches(')').to_string()))
        .expect("a run id");
    shop.env
        .tend()
        .args(["history", "show", &id])
        .run()
        .stdout_has("errors #1/3 0.2 → failure (failure: result >= 0.1)");
}

#[test]
fn a_query_that_selects_no_series_is_inconclusive_never_a_success() {
    let typo = r#"max(shop_error_ratio{host="{{ host.name }}", versoin="{{ release }}"})"#;
    let (shop, _prom) = gated(typo, FAST);
    deploy_erring(&shop, "v2", 0.0)
        .code(1)
        .stderr_has("errors #1/3 no series → inconclusive")
        .stderr_has("inconclusive: 1 of 1 measurements inconclusive (inconclusive_limit 0)");
    assert_eq!(shop.current(), "releases/v1");
    assert_eq!(shop.journal()["releases"][1]["state"], "failed");
    // Each measurement is an event in JSON too.
    let sha = shop.artifact_erring("v3", 0.0);
    let run = Run::of(
        &shop
            .env
            .tend()
            .args([
                "--output",
                "json",
                "deploy",
                "shop.yaml",
                "--var",
                "version=v3",
            ])
            .arg(format!("--var=sha={sha}"))
            .output()
            .unwrap(),
    );
    let m: serde_json::Value = run
        .stderr()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "measurement")
        .expect("a measurement event");
    assert_eq!(m["analysis"], "errors", "{m}");
    assert_eq!(m["n"], 1);
    assert_eq!(m["count"], 3);
    assert_eq!(m["value"], serde_json::Value::Null);
    assert_eq!(m["verdict"], "inconclusive");
    assert_eq!(m["detail"], "no series");
}

#[test]
fn on_inconclusive_halt_leaves_the_release_live_and_says_it_is_not_verified() {
    let typo = r#"max(shop_error_ratio{host="{{ host.name }}", versoin="{{ release }}"})"#;
    let (shop, _prom) = gated(typo, &format!("{FAST}, on_inconclusive: halt"));
    deploy_erring(&shop, "v2", 0.0)
        .code(2)
        .stderr_has("on_inconclusive: halt leaves v2 live and NOT verified");
    assert_eq!(shop.current(), "releases/v2");
    assert_eq!(shop.journal()["releases"][1]["state"], "failed");
}

#[test]
fn prometheus_stopped_mid_analysis_errors_the_analysis_and_rolls_back_naming_the_url() {
    let (shop, mut prom) = gated(
        QUERY,
        r#"success: "result < 0.05", interval: 300ms, count: 30, initial_delay: 1500ms, error_limit: 2"#,
    );
    let sha = shop.artifact_erring("v2", 0.0);
    let (code, seen) = deploy_acting_at(&shop, "v2", &sha, "#1/30 0 → success", |_| prom.stop());
    assert_eq!(code, Some(1), "{seen}");
    let url = prom.url();
    assert!(
        seen.contains("→ error") && seen.contains(&format!("cannot query Prometheus at {url}: ")),
        "{seen}"
    );
    assert!(
        seen.contains("2 measurements in a row could not be made (error_limit 2)"),
        "{seen}"
    );
    assert_eq!(shop.current(), "releases/v1");
}

#[test]
fn a_value_in_a_query_stays_inside_its_label_matcher() {
    // Were the quote not escaped, `or vector(0)` would make every measurement a success.
    let hostile = r#"max(shop_error_ratio{host="{{ host.name }}", version="{{ nick }}"})"#;
    let (shop, _prom) = gated(hostile, FAST);
    let sha = shop.artifact_erring("v2", 0.0);
    shop.env
        .tend()
        .args([
            "deploy",
            "shop.yaml",
            "--output",
            "plain",
            "--var",
            "version=v2",
        ])
        .arg(format!("--var=sha={sha}"))
        .arg(r#"--var=nick=v1"}) or vector(0) or max(up{x=""#)
        .run()
        .code(1)
        .stderr_has("no series → inconclusive");
    // Outside a string, a value that is not a plain token is refused before anything runs.
    let (shop, _prom) = gated("shop_error_ratio > {{ nick }}", FAST);
    let sha = shop.artifact_erring("v2", 0.0);
    shop.env
        .tend()
        .args([
            "deploy",
            "shop.yaml",
            "--var",
            "version=v2",
            "--var",
            "nick=0 or vector(1)",
        ])
        .arg(format!("--var=sha={sha}"))
        .run()
        .code(64)
        .stderr_has("cannot put this value into the query: outside a quoted string");
}

#[test]
fn a_promql_syntax_error_shows_prometheus_own_error_text() {
    let (shop, _prom) = gated("shop_error_ratio +", FAST);
    deploy_erring(&shop, "v2", 0.0)
        .code(1)
        .stderr_has("HTTP 400, bad_data: ")
        .stderr_has("parse error");
    // A query that picks out neither the host nor the release is warned about.
    shop.env
        .tend()
        .args(["validate", "shop.yaml"])
        .run()
        .code(0)
        .stderr_has(
            "warning: analysis 'errors': the query names neither {{ host.name }} nor {{ release }}",
        );
    // What can be seen without Prometheus is refused when the playbook is read.
    let (shop, _prom) = gated("max(rate(shop_requests_total[1m])", FAST);
    shop.env
        .tend()
        .args(["validate", "shop.yaml"])
        .run()
        .code(64)
        .stderr_has("`(` at column 4 is never closed");
}

/// The worst error ratio of the release over every host deployed: the same query for each.
const FLEET: &str = r#"max(shop_error_ratio{version="{{ release }}"})"#;

fn rollout(prom_url: &str) -> String {
    format!(
        r#"{{ batches: [1, "100%"], analysis: [ {{ prometheus: {{ name: errors, url: "{prom_url}", query: '{QUERY}', success: "result < 0.05", failure: "result >= 0.1", interval: 300ms, count: 3, initial_delay: 1500ms }} }}, {{ prometheus: {{ name: fleet, url: "{prom_url}", query: '{FLEET}', success: "result < 0.05", interval: 300ms, count: 3, initial_delay: 1500ms }} }} ] }}"#
    )
}

/// Three hosts, batches [1, 100%], with the rollout analysis; scraped by a Prometheus.
fn fleet() -> (Fleet, Prometheus) {
    let fleet = Fleet::new(3, 1, "PLACEHOLDER");
    let targets: Vec<(&str, u16)> = fleet
        .hosts
        .iter()
        .map(|h| (h.name.as_str(), h.app_port))
        .collect();
    let prom = Prometheus::start(fleet.shop.env.dir.path(), &targets);
    fleet.edit(|t| t.replace("PLACEHOLDER", &rollout(&prom.url())));
    (fleet, prom)
}

#[test]
fn a_good_release_passes_its_canary_analysis_and_rolls_out_to_every_host() {
    let (fleet, prom) = fleet();
    let v1 = fleet.shop.artifact_erring("v1", 0.0);
    // The plan says what runs between the batches, and the longest it can take.
    fleet
        .shop
        .env
        .tend()
        .args(["plan", "shop.yaml", "--offline", "--var"])
        .arg(format!("sha={v1}"))
        .run()
        .code(0)
        .stdout_has("\nafter each batch, before the next starts:\n  analysis errors: max(shop_error_ratio{host=\"web1\", version=\"v1\"})")
        .stdout_has("3 measurements, 300ms apart, after 1s 500ms; at most 32s 100ms")
        .stdout_has("  analysis fleet: max(shop_error_ratio{version=\"v1\"})")
        .stdout_has("if more than 0 host(s) of a batch fail, or its analysis does not pass: every host");
    Run::of(&fleet.deploy_packed("v1", &v1, &[])).code(0);
    let v2 = fleet.shop.artifact_erring("v2", 0.01);
    let before = prom.queries();
    Run::of(&fleet.deploy_packed("v2", &v2, &[]))
        .code(0)
        // A query that is the same for every host of a batch is measured once for them all.
        .stderr_has("ok      analysis fleet (batch 2/2: web2, web3): success")
        .stderr_has("[web1] measure analysis errors (batch 1/2): errors #3/3 0.01 → success (success: result < 0.05)")
        .stderr_has("[web1] ok      analysis errors (batch 1/2): success")
        .stderr_has("[web3] ok      analysis errors (batch 2/2): success");
    for h in ["web1", "web2", "web3"] {
        assert_eq!(fleet.current(h), "releases/v2", "{}", fleet.picture());
    }
    // 3 measurements an analysis: errors on web1, fleet; errors on web2 and web3, fleet once.
    assert_eq!(prom.queries() - before, 5 * 3);
}

#[test]
fn a_bad_release_fails_the_canary_analysis_and_every_host_ends_on_the_old_release() {
    let (fleet, _prom) = fleet();
    let v1 = fleet.shop.artifact_erring("v1", 0.0);
    Run::of(&fleet.deploy_packed("v1", &v1, &[])).code(0);
    let v2 = fleet.shop.artifact_erring("v2", 0.2);
    Run::of(&fleet.deploy_packed("v2", &v2, &[]))
        .code(1)
        // The canary passed its health check: only the analysis saw the errors.
        .stderr_has("[web1] ok      verify http://127.0.0.1")
        .stderr_has("[web1] measure analysis errors (batch 1/2): errors #1/3 0.2 → failure")
        .stderr_has("on_failure: rollback_all: rolling back 1 host(s) on v2")
        .stderr_has("[web1] ok      rollback: verify http://127.0.0.1")
        .stderr_lacks("[web2] start");
    for h in ["web1", "web2", "web3"] {
        assert_eq!(fleet.current(h), "releases/v1", "{}", fleet.picture());
    }
    assert_eq!(fleet.states("web1"), "v1=verified v2=rolled-back");
}

#[test]
fn a_prometheus_check_judges_the_query_value_with_warn_and_crit() {
    let env = crate::harness::Env::new();
    let app = crate::harness::http::HttpServer::start(200, "shop_error_ratio{code=\"500\"} 0.1\n");
    let prom = Prometheus::start(env.dir.path(), &[("web1", app.port)]);
    prom.wait_for_series("shop_error_ratio");
    let check = |query: &str, levels: &str| {
        env.check_nagios(&format!(
            "kind: check\nchecks:\n  - name: errors\n    prometheus: {{ url: \"{}\", query: '{query}', {levels} }}\n",
            prom.url()
        ))
    };
    let q = r#"shop_error_ratio{host="web1"}"#;
    let (code, out) = check(q, "warn: 0.05, crit: 0.2");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with(
            r#"TEND WARNING - errors 0.1 shop_error_ratio{code="500",host="web1",instance="#
        ),
        "{out}"
    );
    assert!(out.contains("| 'errors'=0.1;0.05;0.2"), "{out}");
    assert_eq!(check(q, "warn: 0.05, crit: 0.08").0, 2);
    assert_eq!(check(q, "warn: 0.5").0, 0);
    let (code, out) = check(r#"shop_error_ratio{host="web9"}"#, "warn: 0.05");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("the query selected no series"), "{out}");
    let (code, out) = check("shop_error_ratio +", "warn: 0.05");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("bad_data"), "{out}");
    // A query over a large fleet's names is longer than a URL may be: it is posted.
    let names: String = (0..9000).map(|i| format!("|web{i:05}")).collect();
    let (code, out) = check(
        &format!(r#"max(shop_error_ratio{{host=~"web1{names}"}})"#),
        "warn: 0.05",
    );
    assert_eq!(code, 1, "{}", &out[..out.len().min(300)]);
    // A password with `@` and `/` reaches Prometheus as it is, as Basic auth, and is masked
    // in every form, a regex matcher's escaped one too.
    let fake = crate::harness::http::HttpServer::start(
        200,
        r#"{"status":"success","data":{"resultType":"scalar","result":[0,"0.01"]}}"#,
    );
    let p = env.write(
        "auth.yaml",
        &format!(
            "kind: check\nsecrets: {{ k: {{ env: K }} }}\nchecks:\n  - prometheus: {{ url: \"http://u:{{{{ k }}}}@127.0.0.1:{}\", query: 'up{{x!~\"{{{{ k }}}}\"}} or up', warn: 1 }}\n",
            fake.port
        ),
    );
    let secret = "pa@127.0.0.2:1/x.y*";
    let out = env
        .tend()
        .args(["check", "--output", "json"])
        .arg(&p)
        .env("K", secret)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        crate::harness::stdout(&out),
        crate::harness::stderr(&out)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    for form in [secret, r"x\.y\*", r"x\\.y\\*"] {
        assert!(!text.contains(form), "{form} in {text}");
    }
    let seen = fake
        .requests
        .lock()
        .unwrap()
        .join("\n")
        .to_ascii_lowercase();
    let basic = format!(
        "basic {}",
        data_encoding::BASE64.encode(format!("u:{secret}").as_bytes())
    )
    .to_ascii_lowercase();
    assert!(seen.contains(&format!("authorization: {basic}")), "{seen}");
    // A redirect is not followed: the answer must come from the Prometheus named.
    let moved = crate::harness::http::HttpServer::start(302, "");
    let (code, out) = env.check_nagios(&format!(
        "kind: check\nchecks:\n  - prometheus: {{ url: \"{}\", query: up, warn: 1 }}\n",
        moved.url("")
    ));
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("HTTP 302, a redirect, not followed"), "{out}");
}

#[test]
fn a_rolled_back_deploy_reaches_alertmanager_with_its_graph_and_a_later_success_resolves_it() {
    let (shop, prom) = gated(QUERY, FAST);
    let am = crate::harness::prometheus::Alertmanager::start(shop.env.dir.path());
    let path = shop.env.path("shop.yaml");
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "deploy:\n",
        &format!(
            "notify: {{ alertmanager: {{ url: \"{}\", labels: {{ team: shop }} }} }}\ndeploy:\n",
            am.url()
        ),
        1,
    );
    std::fs::write(&path, text).unwrap();
    deploy_erring(&shop, "v2", 0.2).code(1);
    let alerts = am.alerts();
    let a = &alerts[0];
    assert_eq!(a["labels"]["alertname"], "tend deploy shop", "{alerts}");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["labels"]["job"], "tend-deploy");
    assert_eq!(a["labels"]["team"], "shop");
    assert!(
        a["generatorURL"]
            .as_str()
            .is_some_and(|g| g.starts_with(&format!("{}/graph?g0.expr=", prom.url()))),
        "{alerts}"
    );
    assert!(
        a["annotations"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("last values 0.2")),
        "{alerts}"
    );
    deploy_erring(&shop, "v3", 0.0).code(0);
    let after = am.alerts();
    assert!(after.as_array().is_some_and(|a| a.is_empty()), "{after}");
}

#[test]
fn a_deploy_killed_in_its_analysis_is_finished_by_the_next_run() {
    for point in ["during:verify analysis errors", "analysis:measured"] {
        let (shop, _prom) = gated(QUERY, FAST);
        let out = shop.deploy_with("v2", false, &[("TEND_TEST_CRASH_AT", point)]);
        assert_eq!(
            out.status.code(),
            None,
            "{point}: not killed: {}",
            crate::harness::stderr(&out)
        );
        shop.env
            .tend()
            .args(["rollback", "shop.yaml"])
            .run()
            .code(0)
            .stderr_has("never finished: it was killed");
        assert_eq!(shop.current(), "releases/v1", "{point}");
        assert!(shop.health().unwrap().contains("version=v1"), "{point}");
        assert_eq!(shop.schema(), "catalog_v1 orders_v1", "{point}");
        let v3 = shop.artifact_erring("v3", 0.0);
        shop.env
            .tend()
            .args(["deploy", "shop.yaml", "--var", "version=v3"])
            .arg(format!("--var=sha={v3}"))
            .run()
            .code(0);
    }
}

/// Two series, one failing: each series is judged, and the worst decides.
const TWO: &str = r#"label_replace(vector(0.01), "s", "a", "", "") or label_replace(vector(0.3), "s", "b", "", "")"#;

#[test]
fn each_series_is_judged_and_a_value_that_is_not_a_number_never_passes() {
    let (shop, _prom) = gated(
        TWO,
        r#"success: "result < 0.05", interval: 300ms, count: 3"#,
    );
    deploy_erring(&shop, "v2", 0.0)
        .code(1)
        .stderr_has("errors #1/3 [0.01, 0.3] → failure (not success: result < 0.05)");
    // NaN meets no condition, and a condition written for failures alone would pass it.
    let (shop, _prom) = gated(
        "vector(0) / vector(0)",
        r#"failure: "result >= 0.1", interval: 300ms, count: 3"#,
    );
    deploy_erring(&shop, "v2", 0.0)
        .code(1)
        .stderr_has("errors #1/3 NaN → inconclusive (NaN is not a value a condition can judge)");
    assert_eq!(shop.current(), "releases/v1");
    // A failing series beside a NaN one still fails the measurement.
    let (shop, _prom) = gated(
        "vector(0.3) or label_replace(vector(0) / vector(0), \"s\", \"n\", \"\", \"\")",
        r#"failure: "result > 0.2", interval: 300ms, count: 3"#,
    );
    deploy_erring(&shop, "v2", 0.0)
        .code(1)
        .stderr_has("errors #1/3 [0.3, NaN] → failure (failure: result > 0.2)");
}

#[test]
fn a_release_that_failed_its_gate_is_never_a_rollback_target() {
    let shop = Shop::new();
    let prom = Prometheus::start(shop.env.dir.path(), &[("shop", shop.port)]);
    gate(&shop, &prom, "vector(0.3)", r#"success: "result < 0.05""#);
    // The first deploy fails its gate with nothing to go back to: not verified.
    deploy_erring(&shop, "v1", 0.0).code(2);
    // Deployed again, it must not roll back "to itself" and call that verified.
    deploy_erring(&shop, "v1", 0.0)
        .code(2)
        .stderr_lacks("rollback target if anything fails: v1");
    assert_ne!(
        shop.journal()["releases"][0]["state"],
        "verified",
        "{}",
        shop.journal()
    );
}

#[test]
fn a_query_that_hangs_is_given_up_at_a_signal_and_the_deploy_rolls_back() {
    let (shop, _prom) = gated(QUERY, FAST);
    // A Prometheus that accepts the connection and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let path = shop.env.path("shop.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("initial_delay: 1500ms", "timeout: 1h")
        .replacen(
            "url: \"http://127.0.0.1:",
            &format!("url: \"http://127.0.0.1:{port}/#"),
            1,
        );
    std::fs::write(&path, text).unwrap();
    let sha = shop.artifact_erring("v2", 0.0);
    // The connection is held open to the end: the query must be given up, not refused.
    let mut held = None;
    let (code, seen) =
        deploy_acting_at(&shop, "v2", &sha, "start   verify analysis errors", |pid| {
            held = Some(silent.accept().unwrap());
            std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .unwrap();
        });
    assert_eq!(code, Some(1), "{seen}");
    assert!(
        seen.contains("errors #1/3 interrupted by a signal → error"),
        "{seen}"
    );
    assert_eq!(shop.current(), "releases/v1", "{seen}");
    drop(held);
}

#[test]
fn an_analysis_that_could_pass_every_release_is_refused_when_the_playbook_is_read() {
    for (analysis, said) in [
        (
            r#"success: "result < 0.05", count: 3, failure_limit: 3"#,
            "failure_limit 3 with count 3: the analysis could never fail",
        ),
        (
            r#"success: "result < 0.05", count: 3, inconclusive_limit: 5"#,
            "inconclusive_limit 5 with count 3: the analysis could never be inconclusive",
        ),
        (r#"success: "true""#, "'true' does not read `result`"),
        (
            r#"success: "result is defined or result < 1""#,
            "is true whatever the value",
        ),
        (
            r#"success: "result * 0 == 0""#,
            "is true whatever the value",
        ),
        (
            r#"failure: "result != result""#,
            "is false whatever the value",
        ),
        (r#"success: "result > 0.5 and result < 200""#, ""),
        (
            r#"success: "result < 0.05", count: 4294967295, interval: 99y"#,
            "this analysis could run for more than 7 days",
        ),
    ] {
        let shop = Shop::new();
        let path = shop.env.path("shop.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text + &format!(
                "    - prometheus: {{ name: errors, url: \"http://127.0.0.1:9\", query: 'up', {analysis} }}\n"
            ),
        )
        .unwrap();
        let run = shop
            .env
            .tend()
            .args([
                "validate",
                "shop.yaml",
                "--var",
                &format!("sha={}", "0".repeat(64)),
            ])
            .run();
        if said.is_empty() {
            run.code(0);
        } else {
            run.code(64).stderr_has(said).stderr_has("shop.yaml:");
        }
    }
}

#[test]
fn a_secret_in_the_query_or_the_url_is_masked_in_every_form_and_cannot_move_the_request() {
    let shop = Shop::new();
    let prom = Prometheus::start(shop.env.dir.path(), &[("shop", shop.port)]);
    deploy_erring(&shop, "v1", 0.0).code(0);
    let path = shop.env.path("shop.yaml");
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "deploy:\n",
        "secrets: { k: { env: K } }\ndeploy:\n",
        1,
    );
    let query = r#"max(shop_error_ratio{host="shop", version="{{ release }}", token="{{ k }}"}) or max(shop_error_ratio{host="shop", version="{{ release }}"})"#;
    let gate = format!(
        "    - prometheus: {{ name: errors, url: \"http://u:{{{{ k }}}}@127.0.0.1:{}\", query: '{query}', failure: \"result >= 0.1\", initial_delay: 1500ms }}\n",
        prom.port
    );
    std::fs::write(&path, text + &gate).unwrap();
    // A password that, not encoded, would send the query to 127.0.0.2 and cut the URL short.
    let secret = "pa@127.0.0.2:1/x# Simple Secret99";
    let sha = shop.artifact_erring("v2", 0.2);
    let mut outputs = vec![];
    for output in ["plain", "json"] {
        let out = shop
            .env
            .tend()
            .args([
                "--output",
                output,
                "deploy",
                "shop.yaml",
                "--var",
                "version=v2",
            ])
            .arg(format!("--var=sha={sha}"))
            .env("K", secret)
            .output()
            .unwrap();
        // Measured at the Prometheus named: its 0.2 failed the release.
        Run::of(&out).code(1).stderr_has("0.2");
        outputs.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let forms = [
        secret.to_string(),
        "Simple Secret99".into(),
        "Simple%20Secret99".into(),
        "Simple+Secret99".into(),
        "pa%40127.0.0.2".into(),
    ];
    let mut files = vec![];
    for entry in walkdir::WalkDir::new(shop.env.dir.path()).follow_links(false) {
        let entry = entry.unwrap();
        let p = entry.path();
        if entry.file_type().is_file() && !p.to_string_lossy().contains("prometheus-") {
            files.push((
                p.display().to_string(),
                std::fs::read(p).unwrap_or_default(),
            ));
        }
    }
    for (what, text) in outputs
        .iter()
        .map(|o| ("output".to_string(), o.as_bytes().to_vec()))
        .chain(files)
    {
        let text = String::from_utf8_lossy(&text);
        for f in &forms {
            assert!(!text.contains(f.as_str()), "{f} in {what}:\n{text}");
        }
    }
    assert!(
        outputs[0].contains("graph: http://127.0.0.1:"),
        "{}",
        outputs[0]
    );
}

#[test]
fn a_pause_of_more_than_7_days_between_batches_is_refused() {
    let env = crate::harness::Env::new();
    env.write(
        "fleet.yaml",
        "kind: deploy\nhosts: [127.0.0.1]\ndeploy:\n  root: /srv/x\n  release: v1\n  fetch: { path: a.tar.gz }\n  rollout: { batches: [1], pause: 99y }\n",
    );
    env.tend()
        .args(["validate", "fleet.yaml"])
        .run()
        .code(64)
        .stderr_has("a pause of more than 7 days between batches")
        .stderr_has("fleet.yaml:7:");
}

#[test]
fn a_redeploy_of_the_live_release_that_fails_its_gate_leaves_its_record_as_it_was() {
    let (shop, _prom) = gated("vector(0.3)", r#"success: "result < 0.05""#);
    let sha = shop.artifact_erring("v1", 0.0);
    shop.env
        .tend()
        .args([
            "deploy",
            "shop.yaml",
            "--var",
            "version=v1",
            "--var",
            "greeting=bye",
        ])
        .arg(format!("--var=sha={sha}"))
        .run()
        .code(1);
    let v1 = &shop.journal()["releases"][0];
    assert_eq!(v1["state"], "verified", "{v1}");
    assert_eq!(v1["vars"]["greeting"], "hello", "{v1}");
}
