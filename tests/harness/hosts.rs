//! Hosts for `tend check` and `tend cleanup` across a fleet: web1..webN, each a real sshd on
//! loopback whose sessions get a home and a PATH of their own (`DIR/home`, `DIR/bin` first), so
//! each host has its own tend cache and state and can be given a shim (an old glibc's
//! `getconf`).

use std::path::PathBuf;

use super::Env;
use super::sshd::Sshd;

pub struct Hosts {
    pub env: Env,
    pub sshd: Vec<Sshd>,
    pub names: Vec<String>,
}

impl Hosts {
    pub fn new(n: usize) -> Hosts {
        let env = Env::new();
        let mut sshd = vec![];
        let mut names = vec![];
        for i in 0..n {
            let name = format!("web{}", i + 1);
            let dir = env.path(&name);
            std::fs::create_dir_all(dir.join("home")).unwrap();
            std::fs::create_dir_all(dir.join("bin")).unwrap();
            let wrapper = dir.join("login");
            std::fs::write(
                &wrapper,
                format!(
                    "#!/bin/sh\nexport HOME={d}/home PATH={d}/bin:$PATH TEND_STATE_DIR={d}/state\nexec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n",
                    d = dir.display()
                ),
            )
            .unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
            sshd.push(Sshd::start_with(
                env.dir.path(),
                &format!("ForceCommand {}\n", wrapper.display()),
            ));
            names.push(name);
        }
        let known: String = sshd.iter().map(|s| s.known_hosts_line.clone()).collect();
        env.write("known_hosts", &known);
        Hosts { env, sshd, names }
    }

    /// `tend ARGS` here (playbooks by their name in this directory), run to its end.
    pub fn tend(&self, args: &[&str]) -> super::run::Run {
        use super::run::Runs;
        self.env.tend().args(args).run()
    }

    /// The host's own directory: `home/` (its tend cache) and `bin/` (first on its PATH).
    pub fn dir(&self, i: usize) -> PathBuf {
        self.env.path(&self.names[i])
    }

    /// `name` on host `i`'s PATH ahead of the system's: a `#!/bin/sh` body.
    pub fn shim(&self, i: usize, name: &str, script: &str) {
        let path = self.dir(i).join("bin").join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{script}")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// `hosts:` listing every host, each with `vars` of its own (`(i, "stamp: /x")`), and
    /// `ssh:` with their known_hosts.
    pub fn yaml(&self, vars: &[(usize, &str)]) -> String {
        let mut out = String::from("hosts:\n");
        for (i, name) in self.names.iter().enumerate() {
            let own: Vec<&str> = vars
                .iter()
                .filter(|(j, _)| *j == i)
                .map(|(_, v)| *v)
                .collect();
            out += &format!(
                "  - {{ name: {name}, address: 127.0.0.1, port: {}, identity: {}, vars: {{ {} }} }}\n",
                self.sshd[i].port,
                self.sshd[i].key.display(),
                own.join(", ")
            );
        }
        out += &format!(
            "ssh: {{ known_hosts: {} }}\n",
            self.env.path("known_hosts").display()
        );
        out
    }
}
