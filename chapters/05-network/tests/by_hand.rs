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
        internal: false,
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

/// The recipe's lines, trimmed, without comments (nor the quote that
/// ends the commands run in the container's namespace).
fn recipe_lines() -> Vec<String> {
    std::fs::read_to_string(SCRIPT)
        .unwrap()
        .lines()
        .map(|l| {
            let l = l.split(" #").next().unwrap_or("").trim();
            l.strip_suffix('\'').unwrap_or(l).to_string()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

/// What `--show-commands` printed, as the recipe writes it: this test's
/// bridge, chains, subnet, port, veth names and namespace path replaced by
/// the recipe's (`berth0`, `BERTH-*`, 172.17, 8080, `bv-by-hand`, `"$CTR"`);
/// commands run inside the container's namespace lose their `nsenter`.
fn as_recipe(printed: &str, tag: &str, port: u16) -> Vec<String> {
    let bridge = format!("berth-{tag}");
    let prefix = format!("BERTH{}", tag.to_ascii_uppercase());
    let lines: Vec<&str> = printed
        .lines()
        .filter_map(|l| l.strip_prefix("+ "))
        .collect();
    // The subnet's first two octets, from the bridge's address.
    let gateway = lines
        .iter()
        .find_map(|l| l.strip_prefix("ip addr add "))
        .and_then(|l| l.split('/').next())
        .expect("the bridge's address was printed");
    let octets: Vec<&str> = gateway.split('.').take(2).collect();
    let subnet = format!("{}.{}.", octets[0], octets[1]);
    lines
        .iter()
        .map(|line| {
            // `nsenter --net=PATH COMMAND`: the recipe runs COMMAND in `sh -c` there.
            let line = match line.strip_prefix("nsenter --net=") {
                Some(rest) => rest.split_once(' ').map_or("", |x| x.1),
                None => line,
            };
            let mut words: Vec<String> = vec![];
            for word in line.split(' ') {
                let word = if word.starts_with("bv-") {
                    "bv-by-hand".to_string()
                } else if word.starts_with("/proc/") {
                    "\"$CTR\"".to_string()
                } else {
                    word.to_string()
                };
                words.push(word);
            }
            words
                .join(" ")
                .replace(&bridge, "berth0")
                .replace(&prefix, "BERTH")
                .replace(&subnet, "172.17.")
                .replace(&format!("--dport {port} "), "--dport 8080 ")
        })
        .collect()
}

/// `--show-commands` prints what the code does, and each printed command
/// is a line of the recipe (a check `-C` stands for its `-A` or `-I`): the
/// page's "The same by hand" cannot drift from the code.
#[test]
fn the_printed_commands_are_the_recipes() {
    if !require_root() {
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("berth-ch05-test-")
        .tempdir()
        .unwrap();
    let root = dir.path().join("state");
    let tag = format!("h{}", std::process::id());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_ch05-network"))
            .arg("--show-commands")
            .arg("--root")
            .arg(&root)
            .args(["run", "--rm", "-p", &format!("{port}:80")])
            .arg(lab::fixture::rootfs())
            .arg("/bin/true")
            .env(ch05_network::network::TAG_VAR, &tag)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        stderr
    };
    // The first run creates the network, the second finds it.
    let printed = format!("{}{}", run(), run());
    let host = ch05_network::network::Host::new(&root)
        .tagged(&tag)
        .unwrap();
    host.delete_network("bridge").unwrap();

    let recipe = recipe_lines();
    let commands = as_recipe(&printed, &tag, port);
    for kind in [
        "ip link add",
        "ip addr add",
        "iptables -t nat -A",
        "iptables -t nat -D",
    ] {
        assert!(
            commands.iter().any(|c| c.starts_with(kind)),
            "nothing like `{kind}` printed:\n{printed}"
        );
    }
    for command in &commands {
        let found = if let Some((head, rule)) = command.split_once(" -C ") {
            let chain = rule.split(' ').next().unwrap_or("");
            let append = format!("{head} -A {rule}");
            let insert = append.replacen(&format!("-A {chain}"), &format!("-I {chain} 1"), 1);
            recipe.contains(&append) || recipe.contains(&insert)
        } else {
            recipe.contains(command)
        };
        assert!(
            found,
            "printed `{command}` is not in the recipe:\n{printed}"
        );
    }
}
