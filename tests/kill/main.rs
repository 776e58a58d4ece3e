//! The process-level kill tests, apart from the other integration tests (`tests/it`): each
//! SIGKILLs a `folkreg` process (or this test binary re-run as a child) at an arbitrary moment
//! and checks what survives. `audit_kill` re-runs this binary, which is kept small for it.

// The helpers of `tests/it`; these tests use only some of them.
#[allow(dead_code)]
#[path = "../it/common.rs"]
mod common;

mod audit_kill;
mod avisering_kill;
mod crash_load;
mod load_faults;
