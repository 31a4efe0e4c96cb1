//! The lab: everything around the chapters that makes them runnable,
//! testable and gradable: the busybox fixture with the probe inside, the
//! scenario harness that runs a chapter binary and normalises what it
//! prints for snapshot tests, the privileged-test gate, host setup, the
//! demo, the whole-suite runner and the book checker.
//!
//! What tests use lives in `lab-harness` (re-exported here under the same
//! names); this crate depends on no chapter either: it runs chapter 5's
//! sweeper as a program ([`sweep`]), so `cargo lab` builds while a
//! learner's chapter does not.

pub mod apt;
pub mod bench;
pub mod book_check;
pub mod chapters;
pub mod clean;
pub mod demo;
pub mod exercise;
pub mod interrupt;
pub mod setup;
pub mod suite;
pub mod sweep;
pub mod vm;

pub use lab_harness::{fixture, host, normalise, paths, privileged, registry, scenario, solo};
