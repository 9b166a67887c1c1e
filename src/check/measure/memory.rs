use sysinfo::{MemoryRefreshKind, RefreshKind, System};

pub struct Memory {
    pub total: u64,
    pub available: u64,
    pub swap_total: u64,
    pub swap_used: u64,
    /// The limit came from this process's cgroup (a container), not the whole machine.
    pub cgroup: bool,
}

pub fn read() -> Result<Memory, super::Unmeasured> {
    let sys = System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::everything()),
    )
    .map_err(|e| format!("cannot read memory statistics: {e}"))?;
    let mut m = Memory {
        total: sys.total_memory(),
        available: sys.available_memory(),
        swap_total: sys.total_swap(),
        swap_used: sys.used_swap(),
        cgroup: false,
    };
    // Inside a container the cgroup limit is what the OOM killer enforces. Its "free" counts page
    // cache as used, so judge on resident (anonymous) memory against the limit instead.
    if let Some(cg) = sys.cgroup_limits()
        && cg.total_memory > 0
        && cg.total_memory < m.total
    {
        m.total = cg.total_memory;
        m.available = cg.total_memory.saturating_sub(cg.rss).min(m.available);
        m.cgroup = true;
    }
    if m.total == 0 {
        return Err("the kernel reports no memory".into());
    }
    Ok(m)
}
