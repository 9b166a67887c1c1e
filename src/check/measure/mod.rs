//! Reading the machine: each reader returns plain numbers or a reason it could not.

pub mod cpu;
pub mod disk;
pub mod memory;
pub mod process;

crate::reason::reason! {
    /// Why a value could not be read: the check is UNKNOWN, and says this.
    pub struct Unmeasured;
}
