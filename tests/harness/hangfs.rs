//! A mount whose statfs never answers (what a dead NFS server looks like), from a FUSE
//! filesystem in Python (Debian package python3-fusepy).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct HangFs {
    pub mount: PathBuf,
    child: Child,
}

impl HangFs {
    pub fn mount(dir: &Path) -> HangFs {
        let ok = Command::new("/usr/bin/python3")
            .args(["-c", "import fusepy"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "the hung-mount test needs FUSE: apt-get install python3-fusepy (scripts/test installs it)"
        );
        assert!(
            Path::new("/dev/fuse").exists(),
            "the hung-mount test needs /dev/fuse (modprobe fuse)"
        );
        let mount = dir.join("hung");
        std::fs::create_dir_all(&mount).unwrap();
        let child = Command::new("/usr/bin/python3")
            .arg(super::repo_root().join("tests/harness/hangfs.py"))
            .arg(&mount)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hangfs.py");
        let needle = format!(" {} ", mount.display());
        super::wait_for("the FUSE mount", Duration::from_secs(10), || {
            std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| m.contains(&needle))
        });
        HangFs { mount, child }
    }
}

impl Drop for HangFs {
    fn drop(&mut self) {
        // Killing the daemon aborts the connection: every statfs stuck on it returns.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}
