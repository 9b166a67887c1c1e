//! A small real app to deploy: a Python HTTP server reporting its version on /health, with
//! start/stop/migrate scripts, packed as tar.gz artifacts per version.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Env, free_port, repo_root};

pub struct Shop {
    pub env: Env,
    pub port: u16,
}

const PLAYBOOK: &str = r#"kind: deploy
name: shop
vars:
  version: v1
  greeting: hello
  port: PORT
deploy:
  root: ROOT
  release: "{{ version }}"
  keep_releases: 3
  fetch:
    path: "ARTIFACTS/shop-{{ version }}.tar.gz"
    sha256: "{{ sha }}"
  stop: [ "bin/stop" ]
  migrate:
    - { run: "bin/migrate up catalog_{{ version }}", down: "bin/migrate down catalog_{{ version }}" }
    - { run: "bin/migrate up orders_{{ version }}", down: "bin/migrate down orders_{{ version }}" }
  configure:
    - { template: app.conf.j2, dest: shared/app.conf, mode: "0640" }
  start: [ "bin/start" ]
  verify:
    - { http: "http://127.0.0.1:{{ port }}/health", body_contains: "version={{ release }}", retries: 30, interval: 100ms, timeout: 2s }
"#;

impl Shop {
    pub fn new() -> Shop {
        Shop::with_playbook(|p| p)
    }

    /// The standard playbook, edited by `edit` (a test's variation).
    pub fn with_playbook(edit: impl FnOnce(String) -> String) -> Shop {
        let env = Env::new();
        let port = free_port();
        let text = PLAYBOOK
            .replace("PORT", &port.to_string())
            .replace("ROOT", &env.path("srv/shop").display().to_string())
            .replace("ARTIFACTS", &env.path("artifacts").display().to_string());
        env.write("shop.yaml", &edit(text));
        env.write(
            "app.conf.j2",
            "port={{ port }}\ngreeting={{ greeting }}\nrelease={{ release }}\n",
        );
        Shop { env, port }
    }

    pub fn root(&self) -> PathBuf {
        self.env.path("srv/shop")
    }

    /// Pack version `v` (a bad build when `bad`) and return its sha256.
    pub fn artifact(&self, v: &str, bad: bool) -> String {
        self.artifact_with(v, bad, &[])
    }

    /// Pack version `v` that fails `ratio` of its requests (on /metrics; /health answers 200).
    pub fn artifact_erring(&self, v: &str, ratio: f64) -> String {
        self.artifact_with(v, false, &[("ERROR_RATIO", ratio.to_string().as_bytes())])
    }

    /// `artifact`, with more files in the release.
    pub fn artifact_with(&self, v: &str, bad: bool, extra: &[(&str, &[u8])]) -> String {
        let dir = self.env.path("artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("shop-{v}.tar.gz"));
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::default(),
        );
        let mut tar = tar::Builder::new(gz);
        let src = repo_root().join("tests/harness/app");
        let mut add = |name: &str, data: &[u8], mode: u32| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(mode);
            h.set_mtime(1_700_000_000);
            tar.append_data(&mut h, name, data).unwrap();
        };
        add("app.py", &std::fs::read(src.join("app.py")).unwrap(), 0o644);
        for s in ["start", "stop", "migrate"] {
            add(
                &format!("bin/{s}"),
                &std::fs::read(src.join(s)).unwrap(),
                0o755,
            );
        }
        add("VERSION", format!("{v}\n").as_bytes(), 0o644);
        if bad {
            add("BAD", b"a QA build\n", 0o644);
        }
        for (name, data) in extra {
            add(name, data, 0o644);
        }
        tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
        sha256(&path)
    }

    /// A tar.gz of `entries` (path, bytes, mode) as the artifact of version `v`; its sha256.
    pub fn artifact_from(&self, v: &str, entries: &[(&str, &[u8], u32)]) -> String {
        let path = self.env.path(&format!("artifacts/shop-{v}.tar.gz"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::best(),
        );
        let mut tar = tar::Builder::new(gz);
        for (name, data, mode) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(*mode);
            if name.ends_with('/') {
                h.set_entry_type(tar::EntryType::Directory);
            }
            tar.append_data(&mut h, name, *data).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
        sha256(&path)
    }

    /// `tend ARGS` in the shop's dir, run to the end.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.env.tend().args(args).output().unwrap()
    }

    /// `tend deploy shop.yaml --var version=V --var sha=SHA`, the artifact as it is.
    pub fn deploy_sha(&self, v: &str, sha: &str) -> std::process::Output {
        self.run(&[
            "deploy",
            "shop.yaml",
            "--var",
            &format!("version={v}"),
            "--var",
            &format!("sha={sha}"),
        ])
    }

    /// `tend deploy shop.yaml --var version=V --var sha=...`, packing V first.
    pub fn deploy(&self, v: &str) -> std::process::Output {
        self.deploy_with(v, false, &[])
    }

    pub fn deploy_with(&self, v: &str, bad: bool, env: &[(&str, &str)]) -> std::process::Output {
        let sha = self.artifact(v, bad);
        let mut cmd = self.env.tend();
        cmd.args(["deploy", "shop.yaml", "--var"])
            .arg(format!("version={v}"))
            .arg("--var")
            .arg(format!("sha={sha}"));
        for (k, val) in env {
            cmd.env(k, val);
        }
        cmd.output().unwrap()
    }

    /// The body of GET /health, or why there is none.
    pub fn health(&self) -> Result<String, String> {
        super::http::get(self.port, "/health")
    }

    pub fn current(&self) -> String {
        std::fs::read_link(self.root().join("current"))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "(none)".into())
    }

    pub fn journal(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.root().join(".tend/releases.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Each release's state in the host journal: "v1=verified v2=failed".
    pub fn states(&self) -> String {
        states(&self.root())
    }

    pub fn schema(&self) -> String {
        std::fs::read_to_string(self.root().join("shared/schema"))
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn pid(&self) -> Option<String> {
        std::fs::read_to_string(self.root().join("shared/app.pid"))
            .ok()
            .map(|s| s.trim().to_string())
    }
}

impl Drop for Shop {
    /// The app outlives tend by design; it must not outlive the test.
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = std::process::Command::new("kill")
                .arg(&pid)
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

pub fn sha256(path: &Path) -> String {
    Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Each release's state in the host journal under `root`: "v1=verified v2=failed"; "" when
/// there is no journal.
pub fn states(root: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(root.join(".tend/releases.json")) else {
        return String::new();
    };
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}={}",
                r["release"].as_str().unwrap(),
                r["state"].as_str().unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}
