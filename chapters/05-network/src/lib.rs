//! Chapter 5: connect containers with veth pairs, a bridge, NAT and published ports.
//!
//! The pieces, in the order a container meets them:
//!
//! - [`cidr`]: IPv4 subnets and the arithmetic on them;
//! - [`network`]: named networks (a bridge and a subnet) persisted under a state root,
//!   and the default `bridge` network whose subnet avoids the host's routes;
//! - [`ipam`]: address allocation under a file lock, released at exit, reclaimed from dead pids;
//! - [`bridge`]: the host bridge (Docker's `docker0`, berth's `berth0`);
//! - [`veth`]: the veth pair: one end on the bridge, the other `eth0` in the container;
//! - [`iptables`]: ip_forward, masquerade, published ports, isolation and internal networks in berth-owned chains;
//! - [`reserve`]: published host ports bound and held by the engine, so a taken one is refused;
//! - [`attach`]: the parent-side step of the start sequence that does all of the above for one container;
//! - [`step`]: the same as a parent step (and a child step for the /etc files) of chapter 2's start sequence;
//! - [`etc`]: the container's `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`;
//! - [`names`], [`answer`], [`resolver`], [`serve`] and [`forward`]: name resolution on a
//!   user-defined network: a name table per network, and a resolver process
//!   per network on its gateway that answers from it and forwards the rest;
//! - [`sweep`]: leftovers of killed runs, found and removed;
//! - [`run`]: chapter 4's run with all of the above, and [`cli`]: its options.
//!
//! Links, addresses and routes are changed through routing netlink ([`netlink`]),
//! as `ip` (iproute2) changes them, without a process per step; a container's
//! rules are one `iptables-restore` transaction ([`iptables`]), and a container
//! without published ports needs none while the ruleset's generation says
//! nothing changed since its network's rules were last seen whole
//! ([`nftables`], [`verified`]). Every step has
//! the command a reader would type, which [`trace`] hands to `--show-commands`.

pub mod answer;
pub mod attach;
pub mod bridge;
pub mod cidr;
pub mod cli;
pub mod cmd;
pub mod etc;
pub mod forward;
pub mod ipam;
pub mod iptables;
pub mod lock;
pub mod mode;
pub mod names;
pub mod netlink;
pub mod netns;
pub mod network;
pub mod nftables;
pub mod reserve;
pub mod resolver;
pub mod run;
pub mod serve;
pub mod step;
pub mod sweep;
pub mod sysctl;
pub mod trace;
pub mod verified;
pub mod veth;

pub use ch01_chroot::Error;

/// Where berth keeps its state unless `--root` says otherwise.
pub const DEFAULT_STATE_ROOT: &str = "/var/lib/berth";

/// Where `ch05-network` keeps its containers and networks unless `--root`
/// says otherwise.
pub const CHAPTER_ROOT: &str = "/var/lib/berth-ch05";

/// The result type of every fallible step.
pub type Result<T> = std::result::Result<T, Error>;
