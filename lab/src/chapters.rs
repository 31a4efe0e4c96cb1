//! The chapter chain as data: which binary teaches which mechanism.

/// One chapter crate.
pub struct Chapter {
    pub number: u32,
    pub package: &'static str,
    pub mechanism: &'static str,
    /// Options the demo passes to `run`, to show the chapter's mechanism.
    pub demo_options: &'static [&'static str],
    /// Options every `run` of the demo needs (`--rm`, so no container is kept).
    pub every_run: &'static [&'static str],
    /// `run` takes an image reference instead of a directory (chapter 6 on):
    /// the demo starts a registry, seeds and pulls it.
    pub images: bool,
}

/// Every chapter that exists so far, in order; the demo runs the last.
pub const CHAPTERS: &[Chapter] = &[
    Chapter {
        number: 1,
        package: "ch01-chroot",
        mechanism: "chroot: another root directory",
        demo_options: &[],
        every_run: &[],
        images: false,
    },
    Chapter {
        number: 2,
        package: "ch02-namespaces",
        mechanism: "namespaces and pivot_root: pid, uts, ipc, mount, net, cgroup, time (user with --userns)",
        demo_options: &[],
        every_run: &[],
        images: false,
    },
    Chapter {
        number: 3,
        package: "ch03-cgroups",
        mechanism: "cgroups: memory, cpu, cpuset, pids and io limits; freezer; accounting",
        demo_options: &["--memory", "256m", "--pids-limit", "1000"],
        every_run: &[],
        images: false,
    },
    Chapter {
        number: 4,
        package: "ch04-overlay",
        mechanism: "overlayfs: a copy-on-write root per container; diff and commit",
        demo_options: &["--memory", "256m", "--pids-limit", "1000"],
        every_run: &["--rm"],
        images: false,
    },
    Chapter {
        number: 5,
        package: "ch05-network",
        mechanism: "networking: veth pairs, a bridge, NAT, published ports, named networks",
        demo_options: &["--memory", "256m", "--pids-limit", "1000"],
        every_run: &["--rm"],
        images: false,
    },
    Chapter {
        number: 6,
        package: "ch06-images",
        mechanism: "OCI images: pulled from a registry, stored by digest, layers stacked by overlay",
        demo_options: &["--memory", "256m", "--pids-limit", "1000"],
        every_run: &["--rm", "--quiet"],
        images: true,
    },
    Chapter {
        number: 7,
        package: "ch07-security",
        mechanism: "least privilege: capabilities, seccomp, no_new_privs, masked paths, device rules, a sealed runtime",
        demo_options: &["--memory", "256m", "--pids-limit", "1000"],
        every_run: &["--rm", "--quiet"],
        images: true,
    },
];

/// The newest chapter.
pub fn newest() -> &'static Chapter {
    CHAPTERS.last().expect("at least one chapter")
}
