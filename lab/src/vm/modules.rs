//! Which kernel modules go into the VM: the ones the chapters need, plus
//! everything they depend on, read from each module's `.modinfo` section
//! (`depends=` and `softdep=pre:`), in an order that loads dependencies first.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Modules loaded at boot, by chapter need. Anything else the kernel asks
/// for later is loaded on demand by modprobe from the same set.
// ANCHOR: modules
pub const MODULES: &[&str] = &[
    // crc32c by its module name: libcrc32c (nf_tables) names it only by alias
    "crc32c_generic",
    // the guest itself: the 9p share of the repository, entropy
    "virtio_pci",
    "9p",
    "9pnet_virtio",
    "virtio-rng",
    // chapter 3: a block device to throttle (the guest has no disk)
    "loop",
    // chapter 4: copy-on-write roots
    "overlay",
    // chapter 5: veth pairs, the bridge, iptables (nf_tables) NAT
    "veth",
    "bridge",
    "br_netfilter",
    "nf_tables",
    "nft_compat",
    "nft_chain_nat",
    "nft_nat",
    "nft_masq",
    "nft_ct",
    "nft_reject_inet",
    "nft_fib_inet",
    "nf_nat",
    "nf_conntrack",
    "xt_nat",
    "xt_MASQUERADE",
    "xt_conntrack",
    "xt_addrtype",
    "xt_comment",
    "xt_mark",
    "xt_multiport",
    "xt_tcpudp",
    "tun",
];
// ANCHOR_END: modules

/// Modules copied into the image but not loaded at boot (loading them has
/// side effects, e.g. `dummy` creates `dummy0`).
pub const ON_DEMAND: &[&str] = &["dummy"];

/// One module file to copy: its name and its path relative to `lib/modules/<release>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    pub relative: PathBuf,
}

/// The resolved set: every module file to copy, dependencies before dependants.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub ordered: Vec<Module>,
}

/// Normalises a module name the way the kernel does (`-` and `_` are equal).
pub fn normalise(name: &str) -> String {
    name.replace('-', "_")
}

/// Resolves `wanted` (and `extra`) with their dependencies in `modules_dir`.
pub fn resolve(modules_dir: &Path, wanted: &[&str], extra: &[&str]) -> Result<Resolved> {
    let index = index(modules_dir)?;
    let mut ordered = Vec::new();
    let mut seen = BTreeSet::new();
    for name in wanted.iter().chain(extra) {
        visit(
            &normalise(name),
            &index,
            modules_dir,
            &mut seen,
            &mut ordered,
        )?;
    }
    Ok(Resolved { ordered })
}

fn visit(
    name: &str,
    index: &BTreeMap<String, PathBuf>,
    modules_dir: &Path,
    seen: &mut BTreeSet<String>,
    ordered: &mut Vec<Module>,
) -> Result<()> {
    if !seen.insert(name.to_string()) {
        return Ok(());
    }
    let Some(relative) = index.get(name) else {
        if is_builtin(modules_dir, name) {
            return Ok(());
        }
        bail!(
            "kernel module {name} is neither in {} nor built in",
            modules_dir.display()
        );
    };
    let bytes = fs::read(modules_dir.join(relative))
        .with_context(|| format!("reading {}", relative.display()))?;
    let (hard, soft) = dependencies(&bytes);
    for dep in hard {
        visit(&normalise(&dep), index, modules_dir, seen, ordered)?;
    }
    // Soft dependencies may name an alias (libcrc32c's "crc32c"): follow
    // those that are module names, and list the others in MODULES.
    for dep in soft.iter().map(|d| normalise(d)) {
        if index.contains_key(&dep) {
            visit(&dep, index, modules_dir, seen, ordered)?;
        }
    }
    ordered.push(Module {
        name: name.to_string(),
        relative: relative.clone(),
    });
    Ok(())
}

/// The `depends=` and the `softdep=pre:` entries of a module's `.modinfo` strings.
pub fn dependencies(module: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut deps = Vec::new();
    let mut soft_deps = Vec::new();
    for field in module.split(|b| *b == 0) {
        let Ok(text) = std::str::from_utf8(field) else {
            continue;
        };
        if let Some(list) = text.strip_prefix("depends=") {
            deps.extend(
                list.split(',')
                    .filter(|d| !d.is_empty())
                    .map(str::to_string),
            );
        } else if let Some(soft) = text.strip_prefix("softdep=") {
            // "pre: a b post: c": only the pre part must be loaded first.
            let mut pre = false;
            for word in soft.split_whitespace() {
                match word {
                    "pre:" => pre = true,
                    "post:" => pre = false,
                    w if pre => soft_deps.push(w.to_string()),
                    _ => {}
                }
            }
        }
    }
    (deps, soft_deps)
}

/// Maps every module name to its `.ko` file under `modules_dir`.
fn index(modules_dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut index = BTreeMap::new();
    let mut stack = vec![modules_dir.join("kernel")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(stem) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".ko"))
            {
                let relative = path.strip_prefix(modules_dir)?.to_path_buf();
                index.insert(normalise(stem), relative);
            }
        }
    }
    if index.is_empty() {
        bail!(
            "no uncompressed .ko modules under {}",
            modules_dir.display()
        );
    }
    Ok(index)
}

fn is_builtin(modules_dir: &Path, name: &str) -> bool {
    fs::read_to_string(modules_dir.join("modules.builtin")).is_ok_and(|text| {
        text.lines().any(|l| {
            Path::new(l)
                .file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(|s| normalise(s) == name)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_depends_and_pre_softdeps() {
        let modinfo = b"license=GPL\0softdep=pre: crc32c post: foo\0depends=nf_tables,x_tables\0name=nft_compat\0";
        let (hard, soft) = dependencies(modinfo);
        assert_eq!(hard, ["nf_tables", "x_tables"].map(String::from));
        assert_eq!(soft, ["crc32c"].map(String::from));
    }

    #[test]
    fn empty_depends_is_no_dependency() {
        assert_eq!(dependencies(b"depends=\0"), (vec![], vec![]));
    }
}
