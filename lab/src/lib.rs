//! The lab: everything around the chapters that makes them runnable,
//! testable and gradable: the busybox fixture with the probe inside, the
//! scenario harness that runs a chapter binary and normalises what it
//! prints for snapshot tests, the privileged-test gate, host setup, the
//! demo, the whole-suite runner and the book checker.

pub mod apt;
pub mod bench;
pub mod book_check;
pub mod chapters;
pub mod clean;
pub mod demo;
pub mod exercise;
pub mod fixture;
pub mod host;
pub mod normalise;
pub mod paths;
pub mod privileged;
pub mod registry;
pub mod scenario;
pub mod setup;
pub mod solo;
pub mod suite;
pub mod vm;
