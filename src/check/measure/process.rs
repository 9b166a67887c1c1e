use std::ffi::OsStr;

use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, RefreshKind, System, UpdateKind};

/// Processes (not threads) whose name or argv[0] basename is `name`, excluding this process.
pub fn count(name: &str) -> Result<u64, String> {
    // The kernel's process name is cut at 15 bytes; longer names need the command line.
    let long = name.len() > 15;
    let kind = if long {
        ProcessRefreshKind::nothing().with_cmd(UpdateKind::Always)
    } else {
        ProcessRefreshKind::nothing()
    };
    let mut sys = System::new_with_specifics(RefreshKind::nothing())
        .map_err(|e| format!("cannot list processes: {e}"))?;
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    let me = sysinfo::get_current_pid().ok();
    let n = sys
        .processes()
        .values()
        .filter(|p| Some(p.pid()) != me && p.thread_kind().is_none())
        .filter(|p| {
            p.name() == OsStr::new(name)
                || (long
                    && p.cmd().first().is_some_and(|a0| {
                        std::path::Path::new(a0)
                            .file_name()
                            .is_some_and(|b| b == OsStr::new(name))
                    }))
        })
        .count();
    Ok(n as u64)
}
