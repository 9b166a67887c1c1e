//! A real Prometheus (Debian package prometheus) on a free loopback port, scraping the deploy
//! tests' apps every second, each labelled with its host's name; and a real Alertmanager
//! (Debian package prometheus-alertmanager).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, http, wait_for};

pub struct Prometheus {
    pub port: u16,
    child: Child,
}

fn require(binary: &str, package: &str) {
    assert!(
        Path::new(binary).exists(),
        "{binary} is missing: install the Debian package {package} (scripts/test does)"
    );
}

impl Prometheus {
    /// Scraping `/metrics` of each `(host, port)` every second, its series labelled `host`.
    pub fn start(dir: &Path, targets: &[(&str, u16)]) -> Prometheus {
        require("/usr/bin/prometheus", "prometheus");
        let port = free_port();
        let jobs: String = targets
            .iter()
            .map(|(host, p)| {
                format!(
                    "      - targets: ['127.0.0.1:{p}']\n        labels: {{ host: '{host}' }}\n"
                )
            })
            .collect();
        let config = format!(
            "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nscrape_configs:\n  - job_name: shop\n    static_configs:\n{jobs}"
        );
        let file = dir.join(format!("prometheus-{port}.yml"));
        std::fs::write(&file, config).unwrap();
        let child = Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join(format!("prometheus-{port}")).display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let p = Prometheus { port, child };
        wait_for("prometheus to be ready", Duration::from_secs(30), || {
            http::get(port, "/-/ready").is_ok()
        });
        // Targets are scraped a few seconds after start (discovery sends them in batches): a
        // test measures only once every target has been scraped, up or not.
        if !targets.is_empty() {
            p.wait_for_series(&format!("count(up) == {}", targets.len()));
        }
        p
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Wait until a query returns a series: the targets have been scraped.
    pub fn wait_for_series(&self, query: &str) {
        let path = format!("/api/v1/query?query={}", encode(query));
        wait_for(
            &format!("a series for {query}"),
            Duration::from_secs(30),
            || http::get(self.port, &path).is_ok_and(|b| b.contains("\"value\"")),
        );
    }

    /// How many instant queries Prometheus has answered (its own counter).
    pub fn queries(&self) -> u64 {
        let metrics = http::get(self.port, "/metrics").unwrap_or_default();
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("prometheus_http_requests_total{")
                    && l.contains("handler=\"/api/v1/query\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub struct Alertmanager {
    pub port: u16,
    child: Child,
}

impl Alertmanager {
    /// With one receiver that sends nowhere: a test reads the alerts back from its API.
    pub fn start(dir: &Path) -> Alertmanager {
        require(
            "/usr/bin/prometheus-alertmanager",
            "prometheus-alertmanager",
        );
        let port = free_port();
        let file = dir.join(format!("alertmanager-{port}.yml"));
        std::fs::write(
            &file,
            "route: { receiver: nowhere, group_wait: 1s }\nreceivers: [ { name: nowhere } ]\n",
        )
        .unwrap();
        let child = Command::new("/usr/bin/prometheus-alertmanager")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.path={}",
                dir.join(format!("alertmanager-{port}")).display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager");
        let a = Alertmanager { port, child };
        wait_for("alertmanager to be ready", Duration::from_secs(30), || {
            http::get(port, "/-/ready").is_ok()
        });
        a
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The alerts it holds now (its `/api/v2/alerts`), as JSON.
    pub fn alerts(&self) -> serde_json::Value {
        let body = http::get(self.port, "/api/v2/alerts").expect("alertmanager answers");
        serde_json::from_str(&body).expect("alertmanager's JSON")
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
