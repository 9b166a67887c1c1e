//! Integration tests: each runs the real `tend` binary on a temp dir, against real servers
//! started on loopback by the harness. One test target, so the suite links once.

mod harness;

mod analysis;
mod check;
mod cleanup;
mod cli;
mod crash;
mod deploy;
mod drill;
mod failover;
mod fleet;
mod fuzz;
mod history;
mod injection;
mod inventory;
mod lock;
mod notify;
mod package;
mod playbook;
mod probe;
mod remedy;
mod remote;
mod schema;
mod secrets;
