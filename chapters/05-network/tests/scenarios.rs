//! Chapter 5 scenarios: the `ch05-network` binary as a user runs it, as
//! root, on the real host. Each test has a state root of its own and its
//! own bridge and chains (`BERTH_NETWORK_TAG=t<pid><letter>`: bridge
//! `berth-t…`, chains `BERTHT…-*`), so concurrent runs never share them, and
//! checks on the way out that it left no bridge, veth, chain, rule or
//! allocation behind. All traffic stays on the host's own addresses, on
//! the test's bridges, or in a namespace the test creates (198.19.0.0/16).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ch05_network::network::TAG_VAR;
use ch05_network::{bridge, cmd, iptables};
use lab::fixture;
use lab::privileged::require_root;
use lab::scenario::{Outcome, Scenario};

const BIN: &str = env!("CARGO_BIN_EXE_ch05-network");

static NEXT: AtomicU32 = AtomicU32::new(0);

/// One test's world: a state root, a tag for its bridge and chains.
struct Net {
    root: tempfile::TempDir,
    tag: String,
}

impl Net {
    fn new() -> Net {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let letter = char::from(b'a' + (n % 26) as u8);
        let root = tempfile::Builder::new()
            .prefix("berth-ch05-test-")
            .tempdir_in(std::env::temp_dir())
            .unwrap();
        Net {
            root,
            tag: format!("t{}{letter}", std::process::id()),
        }
    }

    fn state(&self) -> PathBuf {
        self.root.path().join("state")
    }

    /// The default network's bridge for this test.
    fn bridge(&self) -> String {
        format!("berth-{}", self.tag)
    }

    fn prefix(&self) -> String {
        format!("BERTH{}", self.tag.to_ascii_uppercase())
    }

    #[allow(dead_code)]
    /// A network name whose bridge (`berth-<tag><suffix>`) is recognisably this test's.
    fn net_name(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.tag)
    }

    /// `ch05-network --root <root> ARGS...`, normalised for snapshots.
    fn scenario(&self, args: &[&str]) -> Scenario {
        let state = self.state();
        Scenario::new(BIN)
            .arg("--root")
            .arg(&state)
            .args(args)
            .env(TAG_VAR, &self.tag)
            .replace(state.display().to_string(), "<root>")
            .replace(fixture::rootfs().display().to_string(), "<fixture>")
            .replace(self.bridge(), "berth0")
            .replace(self.tag.clone(), "TAG")
    }

    fn run(&self, args: &[&str]) -> Outcome {
        self.scenario(args).run()
    }

    /// A container left running (its engine killed with SIGTERM, which
    /// `--init` passes on, when the returned guard is dropped).
    fn spawn(&self, args: &[&str]) -> Background {
        let child = Command::new(BIN)
            .arg("--root")
            .arg(self.state())
            .args(args)
            .env(TAG_VAR, &self.tag)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Background { child }
    }

    /// Everything this test may have left: its networks' bridges, its
    /// chains, veths of its containers, allocation files.
    fn leftovers(&self) -> Vec<String> {
        let mut found = vec![];
        let links = cmd::ip_json(&["link", "show"]).unwrap();
        for link in links.as_array().into_iter().flatten() {
            let name = link["ifname"].as_str().unwrap_or("");
            if name.starts_with(&self.bridge()) {
                found.push(format!("link {name}"));
            }
            if link["master"]
                .as_str()
                .is_some_and(|m| m.starts_with(&self.bridge()))
            {
                found.push(format!("port {name}"));
            }
        }
        for table in ["nat", "filter"] {
            for rule in iptables::list(table, "").unwrap() {
                if rule.contains(&self.prefix()) || rule.contains(&self.bridge()) {
                    found.push(format!("{table}: {rule}"));
                }
            }
        }
        let ipam = self.state().join("network/ipam");
        for e in std::fs::read_dir(ipam).into_iter().flatten().flatten() {
            found.push(format!("allocation file {}", e.path().display()));
        }
        found
    }

    /// Removes every network of this test's root (as a user would).
    fn remove_networks(&self) {
        let ls = self.run(&["network", "ls"]);
        for line in ls.stdout.lines().skip(1) {
            let name = line.split_whitespace().next().unwrap();
            self.run(&["network", "rm", name]).expect_code(0);
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.remove_networks()));
            let _ = ch05_network::sweep::sweep(
                &ch05_network::network::Host::new(self.state())
                    .tagged(&self.tag)
                    .unwrap(),
            );
            let _ = bridge::delete_link(&self.bridge());
            return;
        }
        self.remove_networks();
        let left = self.leftovers();
        assert!(left.is_empty(), "left behind: {left:#?}");
        let store = ch04_overlay::Store::open(&self.state()).unwrap();
        assert!(store.list().unwrap().is_empty(), "containers left");
    }
}

/// A running `ch05-network run`.
struct Background {
    child: Child,
}

#[allow(dead_code)]
impl Background {
    fn stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().unwrap()
    }

    fn first_line(&mut self) -> String {
        let out = self.child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).unwrap();
        line
    }

    /// SIGTERM to the engine (passed on to the container), then the exit code.
    fn stop(mut self) -> i32 {
        self.terminate()
    }

    fn terminate(&mut self) -> i32 {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the container did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.terminate();
        }
    }
}

fn fx() -> String {
    fixture::rootfs().display().to_string()
}

/// A free TCP port on the host (bound and released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `addr` accepts connections.
fn wait_for(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `GET url` from the host with a minimal HTTP/1.0 client (the fixture's
/// static busybox `wget` cannot run outside its root: glibc's resolver
/// crashes there). Returns the status line and the body, the port shown as 8080.
fn http_get(ip: Ipv4Addr, port: u16) -> String {
    let url = format!("http://{ip}:{port}/index.html");
    let addr = SocketAddr::from((ip, port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head.lines().next().unwrap_or("");
    format!("GET {url}\n{status}\n{body}").replace(&format!(":{port}/"), ":8080/")
}

/// The host's first global IPv4 address outside berth bridges (the
/// default network's gateway when it has none: also one of its own).
fn host_address(fallback: Ipv4Addr) -> Ipv4Addr {
    let addrs = cmd::ip_json(&["-4", "addr", "show", "scope", "global"]).unwrap();
    addrs
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| !l["ifname"].as_str().unwrap_or("").starts_with("berth"))
        .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
        .find_map(|a| a["local"].as_str()?.parse::<Ipv4Addr>().ok())
        .unwrap_or(fallback)
}

/// A table's columns aligned again after normalising (a bridge named
/// `berth-t12345a` shown as `berth0` is shorter), as `network ls` aligns them.
fn realign(out: &Outcome) -> String {
    let rows: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let mut widths = vec![0; rows.iter().map(Vec::len).max().unwrap_or(0)];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let table: String = rows
        .iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            cells.join("   ").trim_end().to_string() + "\n"
        })
        .collect();
    Outcome {
        stdout: table,
        ..out.clone()
    }
    .render()
}

/// The subnet and gateway of network `name` in `net`'s root.
fn network_of(net: &Net, name: &str) -> (String, Ipv4Addr) {
    let ls = net.run(&["network", "ls"]);
    let line = ls
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no network {name}:\n{}", ls.render()));
    let cols: Vec<&str> = line.split_whitespace().collect();
    (cols[2].to_string(), cols[3].parse().unwrap())
}

fn gateway(net: &Net, name: &str) -> Ipv4Addr {
    network_of(net, name).1
}

/// `text` with the default network's subnet shown as 172.17.0.0/16 (the
/// first free one on a host without docker0): addresses `A.B.x.y` of the
/// actual /16 become `172.17.x.y`.
fn as_172_17(net: &Net, text: &str) -> String {
    let (subnet, _) = network_of(net, "bridge");
    let prefix: Vec<&str> = subnet.split('.').take(2).collect();
    text.replace(&format!("{}.{}.", prefix[0], prefix[1]), "172.17.")
}

/// The acceptance: `run -p 8080:80 <fixture> httpd -f -p 80 -h /www`
/// serves the fixture's file to `wget` on the host, at 127.0.0.1 and at the
/// host's own address; on a free port rather than 8080, shown as 8080.
#[test]
fn published_port_serves_httpd() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    let port = free_port();
    let publish = format!("{port}:80");
    let server = net.spawn(&[
        "run",
        "--rm",
        "--init",
        "--name",
        "web",
        "-p",
        &publish,
        &fx(),
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    wait_for(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    let local = http_get(Ipv4Addr::LOCALHOST, port);
    assert!(local.ends_with("200 OK\nhello from berth\n"), "{local}");
    let host_ip = host_address(gateway(&net, "bridge"));
    let remote = http_get(host_ip, port);
    assert!(remote.ends_with("200 OK\nhello from berth\n"), "{remote}");
    // The DNAT rules of the published port, while it runs.
    let rules = iptables::list("nat", &format!("{}-PREROUTING", net.prefix())).unwrap();
    assert!(
        rules
            .iter()
            .any(|r| r.contains(&format!("--dport {port} -j DNAT --to-destination 172."))),
        "{rules:?}"
    );
    let ls = net.run(&["network", "ls"]);
    ls.expect_code(0);

    assert_eq!(server.stop(), 143, "httpd ends by the forwarded SIGTERM");
    // The port's rules and the address went with the container; the
    // default network stays, as docker0 does.
    let rules = iptables::list("nat", &format!("{}-PREROUTING", net.prefix())).unwrap();
    assert_eq!(rules, [format!("-N {}-PREROUTING", net.prefix())]);
    assert!(bridge::link_exists(&net.bridge()).unwrap());
    insta::assert_snapshot!("published_port", local);
    insta::assert_snapshot!("network_ls_default", as_172_17(&net, &realign(&ls)));
}
