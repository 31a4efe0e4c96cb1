//! The test harness every chapter's tests (and the engine's) use: the
//! busybox fixture with the probe inside, the scenario runner that starts a
//! chapter binary and normalises what it prints for snapshot tests, the
//! privileged-test gate, facts about the host, a test registry, and where
//! things live. It depends on no chapter, so chapter N's checks build only
//! chapters 1..N: a learner's broken chapter never breaks the others.
//! Chapters name it `lab` in their dev-dependencies (`lab::fixture::rootfs()`).

pub mod daemon;
pub mod fixture;
pub mod host;
pub mod normalise;
pub mod paths;
pub mod privileged;
pub mod registry;
pub mod scenario;
pub mod solo;
