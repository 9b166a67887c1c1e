//! A fleet of the deploy tests' app: hosts web1..webN, each its own root and app port, reached
//! over real sshd instances on loopback (several hosts may share one sshd, as named hosts).

use std::path::PathBuf;
use std::process::Output;

use super::deploy::Shop;
use super::sshd::Sshd;

pub struct Host {
    pub name: String,
    pub app_port: u16,
    pub sshd: usize,
}

pub struct Fleet {
    pub shop: Shop,
    pub sshd: Vec<Sshd>,
    pub hosts: Vec<Host>,
}

const PLAYBOOK: &str = r#"kind: deploy
name: shop
vars:
  version: v1
  greeting: hello
HOST_LIST
ssh: { known_hosts: KNOWN_HOSTS }
deploy:
  root: "ROOT/{{ host.name }}"
  release: "{{ version }}"
  keep_releases: 3
  rollout: ROLLOUT
  fetch:
    path: "ARTIFACTS/shop-{{ version }}.tar.gz"
    sha256: "{{ sha }}"
  stop: [ "bin/stop" ]
  migrate:
    - { run: "env GATE_MIGRATE={{ host.vars.gate | default('') }} bin/migrate up catalog_{{ version }}", down: "bin/migrate down catalog_{{ version }}" }
  configure:
    - { template: app.conf.j2, dest: shared/app.conf, mode: "0640" }
  start: [ "env BAD_VERSIONS={{ host.vars.bad | default('') }} bin/start" ]
  verify:
    - { http: "http://127.0.0.1:{{ host.vars.port }}/health", body_contains: "version={{ release }}", retries: 30, interval: 100ms, timeout: 2s }
"#;

impl Fleet {
    /// `n` hosts on `sshds` sshd instances (in order: web1 and web2 on the first of two for three
    /// hosts), rolled out in `rollout`
    /// (a YAML value for `deploy.rollout`).
    pub fn new(n: usize, sshds: usize, rollout: &str) -> Fleet {
        Fleet::with_vars(n, sshds, rollout, &[])
    }

    /// As `new`, with extra `vars:` entries for some hosts: `(host index, "bad: v2")`.
    pub fn with_vars(n: usize, sshds: usize, rollout: &str, vars: &[(usize, &str)]) -> Fleet {
        Fleet::build(n, &vec![""; sshds], rollout, vars)
    }

    /// As `new`, with a sshd for each of `configs`, which adds those lines to its sshd_config.
    pub fn with_sshd_config(n: usize, configs: &[&str], rollout: &str) -> Fleet {
        Fleet::build(n, configs, rollout, &[])
    }

    fn build(n: usize, configs: &[&str], rollout: &str, vars: &[(usize, &str)]) -> Fleet {
        let shop = Shop::new();
        let env = &shop.env;
        let sshds = configs.len();
        let sshd: Vec<Sshd> = configs
            .iter()
            .map(|c| Sshd::start_with(env.dir.path(), c))
            .collect();
        let known: String = sshd.iter().map(|s| s.known_hosts_line.clone()).collect();
        let kh = env.write("known_hosts", &known);
        let hosts: Vec<Host> = (0..n)
            .map(|i| Host {
                name: format!("web{}", i + 1),
                app_port: super::free_port(),
                sshd: i * sshds / n,
            })
            .collect();
        let list: String = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let extra: String = vars
                    .iter()
                    .filter(|(j, _)| *j == i)
                    .map(|(_, v)| format!(", {v}"))
                    .collect();
                format!(
                    "  - {{ name: {}, address: 127.0.0.1, port: {}, identity: {}, vars: {{ port: {}{extra} }} }}\n",
                    h.name,
                    sshd[h.sshd].port,
                    sshd[h.sshd].key.display(),
                    h.app_port
                )
            })
            .collect();
        let text = PLAYBOOK
            .replace("HOST_LIST", &format!("hosts:\n{}", list.trim_end()))
            .replace("KNOWN_HOSTS", &kh.display().to_string())
            .replace("ROOT", &env.path("srv").display().to_string())
            .replace("ARTIFACTS", &env.path("artifacts").display().to_string())
            .replace("ROLLOUT", rollout);
        env.write("shop.yaml", &text);
        env.write(
            "app.conf.j2",
            "port={{ host.vars.port }}\ngreeting={{ greeting }}\nrelease={{ release }}\n",
        );
        Fleet { shop, sshd, hosts }
    }

    pub fn root(&self, host: &str) -> PathBuf {
        self.shop.env.path("srv").join(host)
    }

    fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .expect("a host of the fleet")
    }

    /// `tend deploy shop.yaml --output plain --var version=V --var sha=... ARGS`, packing V
    /// first.
    pub fn deploy(&self, v: &str, bad: bool, args: &[&str]) -> Output {
        self.deploy_spawn(v, bad, args).wait_with_output().unwrap()
    }

    /// As `deploy`, started and left running.
    pub fn deploy_spawn(&self, v: &str, bad: bool, args: &[&str]) -> std::process::Child {
        let sha = self.shop.artifact(v, bad);
        self.spawn_packed(v, &sha, args)
    }

    /// `deploy` of version `v`, already packed with checksum `sha`.
    pub fn deploy_packed(&self, v: &str, sha: &str, args: &[&str]) -> Output {
        self.spawn_packed(v, sha, args).wait_with_output().unwrap()
    }

    fn spawn_packed(&self, v: &str, sha: &str, args: &[&str]) -> std::process::Child {
        let output = if args.contains(&"--output") {
            &[][..]
        } else {
            &["--output", "plain"][..]
        };
        self.shop
            .env
            .tend_spawnable()
            .args(["deploy", "shop.yaml"])
            .args(output)
            .arg("--var")
            .arg(format!("version={v}"))
            .arg("--var")
            .arg(format!("sha={sha}"))
            .args(args)
            .spawn()
            .unwrap()
    }

    /// Where `current` points on a host: "releases/v2", or "(none)".
    pub fn current(&self, host: &str) -> String {
        std::fs::read_link(self.root(host).join("current"))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "(none)".into())
    }

    /// Each release's state in a host's journal: "v1=verified v2=failed"; "" when none.
    pub fn states(&self, host: &str) -> String {
        super::deploy::states(&self.root(host))
    }

    /// One more `ssh:` setting in the playbook: `"preflight_timeout: 2s"`.
    pub fn ssh_setting(&self, setting: &str) {
        self.edit(|t| {
            t.replace(
                "ssh: { known_hosts:",
                &format!("ssh: {{ {setting}, known_hosts:"),
            )
        });
    }

    /// Rewrite the playbook (a test's variation).
    pub fn edit(&self, change: impl FnOnce(String) -> String) {
        let path = self.shop.env.path("shop.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, change(text)).unwrap();
    }

    /// The version a host's app answers with, or why it does not answer.
    pub fn version(&self, host: &str) -> String {
        match super::http::get(self.host(host).app_port, "/health") {
            Ok(body) => body
                .split_whitespace()
                .find_map(|w| w.strip_prefix("version="))
                .unwrap_or("?")
                .to_string(),
            Err(e) => format!("down ({e})"),
        }
    }

    /// Every host as `name current version`, one per line, for one assert over the fleet.
    pub fn picture(&self) -> String {
        self.hosts
            .iter()
            .map(|h| {
                format!(
                    "{} {} {} [{}]",
                    h.name,
                    self.current(&h.name),
                    self.version(&h.name),
                    self.states(&h.name)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Fleet {
    /// The apps outlive tend by design; they must not outlive the test.
    fn drop(&mut self) {
        for h in &self.hosts {
            if let Ok(pid) = std::fs::read_to_string(self.root(&h.name).join("shared/app.pid")) {
                let _ = std::process::Command::new("kill")
                    .arg(pid.trim())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
    }
}
