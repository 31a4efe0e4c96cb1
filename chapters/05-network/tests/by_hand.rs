//! The page's "The same by hand" recipe (`examples/by-hand.sh`) stays true:
//! its iptables rules are the ones the library makes, and run as written
//! (in a network namespace of its own, never the host's) it serves a page
//! through the published port and leaves nothing behind.

use std::net::Ipv4Addr;
use std::process::Command;

use ch05_network::iptables::{BridgeNet, Firewall, Rule};
use ch05_network::mode::PortMapping;
use lab::privileged::require_root;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/by-hand.sh");

/// Every rule the library would make for berth0, 172.17.0.0/16 and
/// `-p 8080:80` to 172.17.0.2, and whether teardown deletes it one by one.
fn library_rules() -> Vec<(Rule, bool)> {
    let fw = Firewall::default();
    let net = BridgeNet {
        bridge: "berth0".into(),
        subnet: "172.17.0.1/16".parse().unwrap(),
    };
    let port: PortMapping = "8080:80".parse().unwrap();
    let mut rules: Vec<(Rule, bool)> = fw.hooks().into_iter().map(|r| (r, true)).collect();
    // The network's own rules go with their chains (`-F`, `-X`).
    rules.extend(fw.network_rules(&net).into_iter().map(|r| (r, false)));
    rules.extend(
        fw.port_rules("berth0", Ipv4Addr::new(172, 17, 0, 2), &port)
            .into_iter()
            .map(|r| (r, true)),
    );
    rules
}

#[test]
fn the_recipe_adds_the_rules_the_library_makes() {
    let script = std::fs::read_to_string(SCRIPT).unwrap();
    let lines: Vec<&str> = script.lines().map(str::trim).collect();
    for (rule, deleted) in library_rules() {
        let append = format!("iptables {}", rule.spec());
        // Hooks are inserted first in the built-in chains.
        let insert = append.replacen(
            &format!("-A {}", rule.chain),
            &format!("-I {} 1", rule.chain),
            1,
        );
        let delete = append.replacen(
            &format!(" -A {} ", rule.chain),
            &format!(" -D {} ", rule.chain),
            1,
        );
        assert!(
            lines.iter().any(|l| *l == append || *l == insert),
            "the recipe lacks `{append}`"
        );
        assert!(
            !deleted || lines.contains(&delete.as_str()),
            "the recipe's teardown lacks `{delete}`"
        );
    }
}

#[test]
fn the_recipe_runs_as_written_and_leaves_nothing() {
    if !require_root() {
        return;
    }
    let out = Command::new("timeout")
        .args(["120", "bash", SCRIPT])
        .output()
        .expect("running bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the recipe failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // The page through 127.0.0.1:8080, straight, and from the container (hairpin).
    assert_eq!(
        stdout.matches("hello from the container").count(),
        3,
        "{stdout}\n{stderr}"
    );
    assert!(stdout.ends_with("== teardown\n"), "{stdout}");
    // Its container namespace (`berth-by-hand-PID`) is gone; other tests'
    // namespaces may come and go meanwhile.
    let left: Vec<String> = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("berth-by-hand-"))
        .collect();
    assert!(left.is_empty(), "the recipe left {left:?}");
}
