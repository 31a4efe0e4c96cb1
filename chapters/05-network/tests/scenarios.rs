//! Chapter 5 scenarios: the `ch05-network` binary as a user runs it, as
//! root, on the real host. Each test has a state root of its own and its
//! own bridge and chains (`BERTH_NETWORK_TAG=t<pid><letter>`: bridge
//! `berth-t…`, chains `BERTHT…-*`), so concurrent runs never share them, and
//! checks on the way out that it left no bridge, veth, chain, rule or
//! allocation behind. All traffic stays on the host's own addresses, on
//! the test's bridges, or in a namespace the test creates (198.19.0.0/16).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ch05_network::forward::UPSTREAM_VAR;
use ch05_network::network::TAG_VAR;
use ch05_network::{bridge, cmd, iptables};
use lab::fixture;
use lab::privileged::require_root;
use lab::scenario::{Outcome, Scenario};

const BIN: &str = env!("CARGO_BIN_EXE_ch05-network");

static NEXT: AtomicU32 = AtomicU32::new(0);

/// One test's world: a state root, a tag for its bridge and chains, and
/// the upstream its networks' resolvers forward to (never the host's own
/// resolvers, which may be outside the machine).
struct Net {
    root: tempfile::TempDir,
    tag: String,
    upstream: String,
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
            // Nothing listens there: a forwarded query fails at once.
            upstream: "127.0.0.1:9".into(),
        }
    }

    fn state(&self) -> PathBuf {
        self.root.path().join("state")
    }

    /// This test's number in the process (0, 1, ...).
    fn index(&self) -> u8 {
        self.tag.as_bytes()[self.tag.len() - 1] - b'a'
    }

    /// A /24 for a named network, unique to this process, test and `n`:
    /// `10.(200+n).(pid % 250).0/24`, shown as `10.(200+n).0.0/24`.
    fn subnet(&self, n: u8) -> String {
        format!("10.{}.{}.0/24", 200 + n, self.pid_byte())
    }

    fn pid_byte(&self) -> u32 {
        (std::process::id() + self.index() as u32 * 7) % 250
    }

    /// Shows this test's named subnets as `10.20N.0.x`.
    fn normalise(&self, text: &str) -> String {
        let mut text = text.to_string();
        for n in 0..4 {
            text = text.replace(
                &format!("10.{}.{}.", 200 + n, self.pid_byte()),
                &format!("10.{}.0.", 200 + n),
            );
        }
        text
    }

    /// The default network's bridge for this test.
    fn bridge(&self) -> String {
        format!("berth-{}", self.tag)
    }

    fn prefix(&self) -> String {
        format!("BERTH{}", self.tag.to_ascii_uppercase())
    }

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
            .env(UPSTREAM_VAR, &self.upstream)
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
            .env(UPSTREAM_VAR, &self.upstream)
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

    /// The resolvers of this root still running after 10 s (each exits
    /// within a second or so of its network's last container).
    fn resolvers_left(&self) -> Vec<String> {
        let dns = self.state().join("network/dns");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let running: Vec<String> = std::fs::read_dir(&dns)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "pid"))
                .filter(|p| ch04_overlay::owner::Owner::read(p).is_some_and(|o| o.is_alive()))
                .map(|p| p.display().to_string())
                .collect();
            if running.is_empty() || Instant::now() > deadline {
                return running;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Removes every network of this test's root (as a user would).
    fn remove_networks(&self) {
        let ls = Scenario::new(BIN)
            .arg("--root")
            .arg(self.state())
            .args(["network", "ls"])
            .env(TAG_VAR, &self.tag)
            .run();
        for line in ls.stdout.lines().skip(1) {
            let name = line.split_whitespace().next().unwrap();
            if name == "bridge" {
                // Never removed by `network rm`, as Docker's: cleaning a
                // state root up takes it down (`cargo lab clean` does).
                self.run(&["network", "rm", name]).expect_code(125);
                continue;
            }
            self.run(&["network", "rm", name]).expect_code(0);
        }
        // The library's removal, for the default network only: the whole
        // sweep would also take concurrent tests' veths mid-attach.
        if ls.stdout.lines().skip(1).any(|l| l.starts_with("bridge ")) {
            self.host().delete_network("bridge").unwrap();
        }
    }

    /// This test's network state, as the binary sees it.
    fn host(&self) -> ch05_network::network::Host {
        ch05_network::network::Host::new(self.state())
            .tagged(&self.tag)
            .unwrap()
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
            // Containers of engines killed on the way (timeouts): unmount
            // and remove them, so the temporary root can go.
            std::thread::sleep(Duration::from_secs(1));
            if let Ok(store) = ch04_overlay::Store::open(&self.state()) {
                let _ = ch04_overlay::sweep::sweep(&store);
                for c in store.list().unwrap_or_default() {
                    let _ = store.remove(&c);
                }
            }
            return;
        }
        self.remove_networks();
        let resolvers = self.resolvers_left();
        assert!(
            resolvers.is_empty(),
            "resolvers still running: {resolvers:?}"
        );
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
            .expect("the container did not stop on SIGTERM")
    }

    /// SIGTERM, then SIGKILL after 20 s (None then).
    fn terminate(&mut self) -> Option<i32> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            if Instant::now() > deadline {
                // Our own child, by pid.
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.terminate();
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

/// Waits until `addr` accepts connections (a loaded host running the
/// whole suite may take a while to start a container); fails at once if
/// the engine serving it has exited.
fn wait_for(server: &mut Background, addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err() {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("the server's engine exited ({status}) before {addr} answered");
        }
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// busybox `wget` from the fixture, run on the host (the port shown as 8080).
/// No `-T`: this static busybox crashes with it; the scenario times out instead.
fn wget(ip: Ipv4Addr, port: u16) -> Outcome {
    Scenario::new(fixture::rootfs().join("bin/busybox"))
        .args(["wget", "-q", "-O", "-"])
        .arg(format!("http://{ip}:{port}/index.html"))
        .replace(format!(":{port}/"), ":8080/")
        .timeout(Duration::from_secs(60))
        .run()
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
    let mut server = net.spawn(&[
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
    wait_for(&mut server, SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    let local = wget(Ipv4Addr::LOCALHOST, port);
    local.expect_code(0);
    assert_eq!(local.stdout, "hello from berth\n");
    let host_ip = host_address(gateway(&net, "bridge"));
    let remote = wget(host_ip, port);
    remote.expect_code(0);
    assert_eq!(remote.stdout, "hello from berth\n");
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
    insta::assert_snapshot!("published_port", local.render());
    insta::assert_snapshot!("network_ls_default", as_172_17(&net, &realign(&ls)));
}

/// Two containers on one named network exchange TCP (an HTTP request and
/// its answer), with no NAT between them; the client's /etc/hosts has its
/// hostname and its name on its own address, and `--add-host` lines.
#[test]
fn two_containers_on_one_network() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    let name = net.net_name("n");
    let subnet = net.subnet(0);
    let created = net.run(&["network", "create", &name, "--subnet", &subnet]);
    created.expect_code(0);
    let web_ip = subnet.replace(".0/24", ".10");
    let mut server = net.spawn(&[
        "run",
        "--rm",
        "--init",
        "--network",
        &name,
        "--ip",
        &web_ip,
        "--name",
        "web",
        &fx(),
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    // Through the bridge, from the host: the server is up.
    wait_for(
        &mut server,
        SocketAddr::from((web_ip.parse::<Ipv4Addr>().unwrap(), 80)),
    );
    let add_host = format!("web:{web_ip}");
    let client = net
        .scenario(&[
            "run",
            "--rm",
            "--network",
            &name,
            "--name",
            "client",
            "--hostname",
            "box",
            "--add-host",
            &add_host,
            &fx(),
            "sh",
            "-c",
            "wget -q -O - http://web/index.html; tail -n 2 /etc/hosts; cat /etc/hostname",
        ])
        .replace(name.clone(), "backend")
        .run();
    client.expect_code(0);
    let client_ip = client
        .stdout
        .lines()
        .find(|l| l.ends_with("\tbox client"))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("no own line in /etc/hosts:\n{}", client.render()))
        .to_string();
    assert_eq!(client_ip, subnet.replace(".0/24", ".2"));
    assert!(client.stdout.starts_with("hello from berth\n"));
    assert_eq!(server.stop(), 143);
    insta::assert_snapshot!("two_containers", net.normalise(&client.render()));
}

/// Two networks cannot reach each other (Docker's two-stage isolation),
/// while each reaches its own members.
#[test]
fn networks_are_isolated() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    let (a, b) = (net.net_name("a"), net.net_name("b"));
    let (sa, sb) = (net.subnet(1), net.subnet(2));
    net.run(&["network", "create", &a, "--subnet", &sa])
        .expect_code(0);
    net.run(&["network", "create", &b, "--subnet", &sb])
        .expect_code(0);
    let web_ip = sa.replace(".0/24", ".10");
    let mut server = net.spawn(&[
        "run",
        "--rm",
        "--init",
        "--network",
        &a,
        "--ip",
        &web_ip,
        &fx(),
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    wait_for(
        &mut server,
        SocketAddr::from((web_ip.parse::<Ipv4Addr>().unwrap(), 80)),
    );
    let url = format!("http://{web_ip}/index.html");
    let fetch = |network: &str| {
        net.scenario(&[
            "run",
            "--rm",
            "--init",
            "--network",
            network,
            &fx(),
            "timeout",
            "3",
            "wget",
            "-q",
            "-O",
            "-",
            &url,
        ])
        .replace(a.clone(), "net-a")
        .replace(b.clone(), "net-b")
        .run()
    };
    let same = fetch(&a);
    same.expect_code(0);
    assert_eq!(same.stdout, "hello from berth\n");
    let other = fetch(&b);
    assert_ne!(other.code, 0, "{}", other.render());
    assert_eq!(other.stdout, "");
    // The drop is berth's isolation rule, not a missing route.
    let stage2 = iptables::list("filter", &format!("{}-ISOLATION-2", net.prefix())).unwrap();
    let bridge_a = net
        .host()
        .list_networks()
        .unwrap()
        .into_iter()
        .find(|n| n.name == a)
        .unwrap()
        .bridge;
    assert!(
        stage2
            .iter()
            .any(|r| r.contains(&format!("-o {bridge_a} -j DROP"))),
        "{stage2:?}"
    );
    assert_eq!(server.stop(), 143);
    insta::assert_snapshot!(
        "isolated_networks",
        net.normalise(&format!("{}{}", same.render(), other.render()))
    );
}

/// A namespace standing in for the internet: `outside` at 198.18.X.2/30,
/// the host at 198.18.X.1 on a veth pair; deleted (with the pair) on drop.
struct Outside {
    name: String,
    host_ip: Ipv4Addr,
    ip: Ipv4Addr,
}

impl Outside {
    fn new(net: &Net) -> Outside {
        let n = net.index();
        let name = format!("berth-test-{}-{n}-outside", std::process::id());
        let x = (std::process::id() % 64) as u8 * 4;
        let host_ip = Ipv4Addr::new(198, 18, n, x + 1);
        let ip = Ipv4Addr::new(198, 18, n, x + 2);
        cmd::ip(&["netns", "add", &name]).unwrap();
        let outside = Outside { name, host_ip, ip };
        let link = format!("bto{}{n}", std::process::id());
        let ns = format!("/run/netns/{}", outside.name);
        cmd::ip(&[
            "link", "add", &link, "type", "veth", "peer", "name", "wan", "netns", &ns,
        ])
        .unwrap();
        cmd::ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &link]).unwrap();
        cmd::ip(&["link", "set", &link, "up"]).unwrap();
        let inside = format!("{ip}/30");
        for args in [
            &["addr", "add", inside.as_str(), "dev", "wan"][..],
            &["link", "set", "wan", "up"],
            &["link", "set", "lo", "up"],
        ] {
            let mut full = vec!["-n", outside.name.as_str()];
            full.extend_from_slice(args);
            cmd::ip(&full).unwrap();
        }
        outside
    }

    /// A TCP listener inside the outside namespace.
    fn listen(&self, port: u16) -> TcpListener {
        ch05_network::netns::Netns::from_path(format!("/run/netns/{}", self.name))
            .unwrap()
            .run(|| TcpListener::bind(("0.0.0.0", port)))
            .unwrap()
            .unwrap()
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = cmd::ip(&["netns", "del", &self.name]);
    }
}

/// Outbound NAT: a container connects to a server "outside", which sees
/// the host's address (masquerade), not the container's.
#[test]
fn outbound_nat_shows_the_host_address() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    let outside = Outside::new(&net);
    let listener = outside.listen(7000);
    let server = std::thread::spawn(move || {
        let (mut conn, peer) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut request = [0u8; 1024];
        let _ = conn.read(&mut request).unwrap();
        let answer = format!("HTTP/1.0 200 OK\r\n\r\nyou came from {}\n", peer.ip());
        conn.write_all(answer.as_bytes()).unwrap();
        peer.ip()
    });
    let url = format!("http://{}:7000/", outside.ip);
    let out = net
        .scenario(&[
            "run",
            "--rm",
            &fx(),
            "sh",
            "-c",
            &format!("ip -o -4 addr show eth0 | tr -s ' ' | cut -d' ' -f2,4; wget -q -O - {url}"),
        ])
        .replace(outside.host_ip.to_string(), "198.18.0.1")
        .replace(outside.ip.to_string(), "198.18.0.2")
        .run();
    out.expect_code(0);
    let seen = server.join().unwrap();
    assert_eq!(seen, outside.host_ip, "the server saw the host's address");
    let container_ip = out
        .stdout
        .lines()
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap();
    assert!(!container_ip.starts_with("198.18."), "{}", out.render());
    assert!(
        out.stdout.ends_with("you came from 198.18.0.1\n"),
        "{}",
        out.render()
    );
    insta::assert_snapshot!("outbound_nat", as_172_17(&net, &out.render()));
}

/// `--network none`: only `lo`, no address taken. `--network host`: the
/// host's own namespace; publishing a port there is refused.
#[test]
fn none_and_host_modes() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    let none = net.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--name",
        "alone",
        "--hostname",
        "alone",
        &fx(),
        "sh",
        "-c",
        "ip -o link | cut -d: -f2; tail -n 1 /etc/hosts",
    ]);
    none.expect_code(0);
    assert_eq!(none.stdout, " lo\n127.0.1.1\talone\n");
    assert!(!net.state().join("network/ipam").exists() || net.leftovers().is_empty());
    let host_netns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let host = net.run(&[
        "run",
        "--rm",
        "--network",
        "host",
        &fx(),
        "readlink",
        "/proc/self/ns/net",
    ]);
    host.expect_code(0);
    assert_eq!(host.stdout.trim(), host_netns.display().to_string());
    let refused = net.run(&["run", "--network", "host", "-p", "80:80", &fx(), "true"]);
    refused.expect_code(125);
    insta::assert_snapshot!(
        "none_and_host",
        format!("{}{}", none.render(), refused.render())
    );
}

/// 20 runs at once get 20 different addresses: each container prints its
/// address and waits on its stdin, so all 20 hold theirs at the same time.
#[test]
fn concurrent_runs_get_distinct_addresses() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    let mut runs: Vec<Background> = (0..20)
        .map(|_| {
            net.spawn(&[
                "run",
                "--rm",
                &fx(),
                "sh",
                "-c",
                "ip -o -4 addr show eth0 | tr -s ' ' | cut -d' ' -f4; cat >/dev/null",
            ])
        })
        .collect();
    let addresses: Vec<String> = runs.iter_mut().map(|r| r.first_line()).collect();
    let mut distinct = addresses.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 20, "{addresses:?}");
    assert!(
        addresses.iter().all(|a| a.ends_with("/16\n")),
        "{addresses:?}"
    );
    let ipam = std::fs::read_to_string(net.state().join("network/ipam/bridge.json")).unwrap();
    assert_eq!(ipam.matches("\"container\"").count(), 20);
    for run in &mut runs {
        drop(run.stdin());
    }
    for mut run in runs {
        assert_eq!(run.child.wait().unwrap().code(), Some(0));
    }
    assert!(!net.state().join("network/ipam/bridge.json").exists());
}

/// A run killed with SIGKILL runs no cleanup (its container dies with it,
/// by the parent-death signal): its address and published-port rules stay
/// recorded until the next run reclaims them.
#[test]
fn killed_run_is_reclaimed_by_the_next() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    let port = free_port();
    let publish = format!("{port}:80");
    let mut server = net.spawn(&[
        "run",
        "--rm",
        "--init",
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
    wait_for(&mut server, SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    let ipam = net.state().join("network/ipam/bridge.json");
    let owner: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ipam).unwrap()).unwrap();
    let container_pid = owner["addresses"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["owner"]["pid"]
        .as_i64()
        .unwrap();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // The container follows its engine (parent-death signal), a moment later.
    let deadline = Instant::now() + Duration::from_secs(20);
    while Path::new(&format!("/proc/{container_pid}")).exists() {
        assert!(
            Instant::now() < deadline,
            "the container outlived its engine"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let prerouting = format!("{}-PREROUTING", net.prefix());
    let stale = iptables::list("nat", &prerouting).unwrap();
    assert_eq!(
        stale.len(),
        2,
        "the killed run's DNAT rule stays: {stale:?}"
    );
    let next = net.run(&["run", "--rm", &fx(), "true"]);
    next.expect_code(0);
    assert_eq!(
        iptables::list("nat", &prerouting).unwrap(),
        [format!("-N {prerouting}")]
    );
    // The killed run's container (kept by a SIGKILLed --rm run) is
    // removed by chapter 4's sweep.
    drop(server);
    net.run(&["ls"]).expect_code(0);
}

/// Bad input: one line, exit 125, nothing created.
#[test]
fn bad_input_is_refused_cleanly() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    let name = net.net_name("x");
    let subnet = net.subnet(3);
    net.run(&["network", "create", &name, "--subnet", &subnet])
        .expect_code(0);
    let overlap = subnet.replace(".0/24", ".128/25");
    let mut transcript = String::new();
    for args in [
        &["run", "--network", "none", "-p", "8080:80", &fx(), "true"][..],
        &["run", "--network", "nosuch", &fx(), "true"],
        &["run", "-p", "80", &fx(), "true"],
        &["run", "-p", "8080:80", "-p", "8080:81", &fx(), "true"],
        &["network", "create", &name],
        &["network", "create", "other", "--subnet", &overlap],
        &["network", "create", "bad name"],
        &["network", "rm", "nosuch"],
    ] {
        let out = net.scenario(args).replace(name.clone(), "backend").run();
        out.expect_code(125);
        // One line (clap adds a hint line to usage errors).
        let usage = out.stderr.starts_with("error: ");
        assert!(usage || out.stderr.lines().count() == 1, "{}", out.render());
        transcript.push_str(&out.render());
    }
    let store = ch04_overlay::Store::open(&net.state()).unwrap();
    assert!(store.list().unwrap().is_empty());
    insta::assert_snapshot!("bad_input", net.normalise(&transcript));
}

/// The number of containers kept under this test's root.
fn containers(net: &Net) -> usize {
    ch04_overlay::Store::open(&net.state())
        .unwrap()
        .list()
        .unwrap()
        .len()
}

/// Waits (up to 90 s) until the container of `server` holds an address.
fn wait_attached(net: &Net, server: &mut Background) {
    let ipam = net.state().join("network/ipam");
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::fs::read_dir(&ipam).map_or(true, |mut d| d.next().is_none()) {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("the engine exited ({status}) before its container was attached");
        }
        assert!(
            Instant::now() < deadline,
            "the container was never attached"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Issue 12, item 10: a host port a host service holds is refused (TCP
/// and UDP) with Docker's message, exit 125, nothing created; a published
/// port is held by the engine, so a host service cannot take it either.
#[test]
fn a_taken_host_port_is_refused() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    let service = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = service.local_addr().unwrap().port();
    let udp_service = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp = udp_service.local_addr().unwrap().port();
    for publish in [
        format!("127.0.0.1:{tcp}:80"),
        format!("127.0.0.1:{udp}:53/udp"),
    ] {
        let out = net.run(&["run", "-p", &publish, &fx(), "true"]);
        out.expect_code(125);
        assert!(
            out.stderr.trim_end().ends_with("port is already allocated")
                && out.stderr.lines().count() == 1,
            "{}",
            out.render()
        );
    }
    assert_eq!(containers(&net), 0, "a refused run created a container");
    assert!(
        !Path::new("/sys/class/net").join(net.bridge()).exists(),
        "a refused run created the default network's bridge"
    );
    assert!(net.leftovers().is_empty(), "{:#?}", net.leftovers());
    drop((service, udp_service));

    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let mut server = net.spawn(&[
        "run",
        "--rm",
        "--init",
        "-p",
        &publish,
        &fx(),
        "sleep",
        "60",
    ]);
    wait_attached(&net, &mut server);
    let taken = TcpListener::bind(("127.0.0.1", port));
    assert!(
        taken.is_err(),
        "a host service took the published port {port}"
    );
    assert_eq!(server.stop(), 143);
}

/// Issue 12, item 11: a hostname or an --add-host name with a newline
/// would add lines to /etc/hosts: refused, exit 125, nothing created.
#[test]
fn newlines_cannot_reach_the_etc_files() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    for args in [
        &[
            "run",
            "--hostname",
            "x\n6.6.6.6 evil",
            &fx(),
            "cat",
            "/etc/hosts",
        ][..],
        &["run", "--hostname", "a b", &fx(), "cat", "/etc/hosts"],
        &[
            "run",
            "--add-host",
            "db\n6.6.6.6 evil:192.0.2.7",
            &fx(),
            "cat",
            "/etc/hosts",
        ],
    ] {
        let out = net.run(args);
        out.expect_code(125);
        assert!(!out.stdout.contains("6.6.6.6"), "{}", out.render());
        assert!(
            out.stderr.contains("invalid hostname") || out.stderr.contains("--add-host"),
            "{}",
            out.render()
        );
    }
    assert_eq!(containers(&net), 0, "a refused run created a container");
}

/// Issue 12, item 12: `network rm` refuses the default network (other
/// runs and state roots stand on it) and a network with endpoints.
#[test]
fn network_rm_refuses_the_default_and_networks_in_use() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    net.run(&["run", "--rm", &fx(), "true"]).expect_code(0);
    let out = net.run(&["network", "rm", "bridge"]);
    out.expect_code(125);
    assert_eq!(
        out.stderr,
        "ch05-network: bridge is the default network and cannot be removed\n"
    );
    assert!(Path::new("/sys/class/net").join(net.bridge()).exists());

    let name = net.net_name("u");
    net.run(&["network", "create", &name, "--subnet", &net.subnet(2)])
        .expect_code(0);
    let mut server = net.spawn(&[
        "run",
        "--rm",
        "--init",
        "--network",
        &name,
        &fx(),
        "sleep",
        "60",
    ]);
    wait_attached(&net, &mut server);
    let out = net.run(&["network", "rm", &name]);
    out.expect_code(125);
    assert!(
        out.stderr.contains("has active endpoints"),
        "{}",
        out.render()
    );
    assert_eq!(server.stop(), 143);
    net.run(&["network", "rm", &name]).expect_code(0);
}

/// Issue 12, item 13: a run with -p killed with SIGKILL (its container
/// follows it), then `rm`: no DNAT, FORWARD or MASQUERADE rule of the
/// port and no address lease is left, without waiting for a later run.
#[test]
fn rm_after_a_killed_run_leaks_nothing() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    let port = free_port();
    let publish = format!("{port}:80");
    let name = format!("web{}", net.index());
    let mut server = net.spawn(&[
        "run",
        "--name",
        &name,
        "--init",
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
    wait_for(&mut server, SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    let ipam = net.state().join("network/ipam/bridge.json");
    let owner: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ipam).unwrap()).unwrap();
    let (ip, alloc) = owner["addresses"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .map(|(ip, a)| (ip.clone(), a.clone()))
        .unwrap();
    let container_pid = alloc["owner"]["pid"].as_i64().unwrap();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Path::new(&format!("/proc/{container_pid}")).exists() {
        assert!(
            Instant::now() < deadline,
            "the container outlived its engine"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rules_of = |ip: &str| {
        let mut found = vec![];
        for table in ["nat", "filter"] {
            for rule in iptables::list(table, "").unwrap() {
                let of_ip = rule.contains(&format!("{ip}/")) || rule.contains(&format!("{ip}:"));
                if rule.contains(&net.prefix()) && of_ip {
                    found.push(rule);
                }
            }
        }
        found
    };
    assert!(
        !rules_of(&ip).is_empty(),
        "the killed run left no rule to test"
    );
    net.run(&["rm", &name]).expect_code(0);
    assert_eq!(rules_of(&ip), Vec::<String>::new(), "rules of {ip} stayed");
    assert!(!ipam.exists(), "the address lease of {ip} stayed");
    drop(server);
}

/// Issue 12, item 7: a layer whose /etc is a symbolic link to a host
/// directory (holding a symbolic link resolv.conf). The engine's /etc
/// files are made and mounted inside the container's root, where the
/// container resolves the same link; the host directory is untouched.
#[test]
fn etc_files_stay_inside_the_root() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    let host = tempfile::tempdir().unwrap();
    let host_etc = host.path().join("etc");
    std::fs::create_dir(&host_etc).unwrap();
    std::os::unix::fs::symlink("/nowhere", host_etc.join("resolv.conf")).unwrap();
    let layer = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&host_etc, layer.path().join("etc")).unwrap();
    let lower = layer.path().display().to_string();
    let out = net.run(&[
        "run",
        "--rm",
        "--hostname",
        "inside",
        "--lower",
        &lower,
        &fx(),
        "cat",
        "/etc/hostname",
    ]);
    let mut left: Vec<String> = std::fs::read_dir(&host_etc)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["resolv.conf"],
        "the run wrote into the host's directory"
    );
    assert!(
        host_etc
            .join("resolv.conf")
            .symlink_metadata()
            .unwrap()
            .is_symlink(),
        "the host's resolv.conf link was replaced"
    );
    out.expect_code(0);
    assert_eq!(out.stdout, "inside\n");
}

/// A container reaches its own published port through the host (hairpin):
/// the bridge must send the rewritten packet back out of the port it came
/// in by, which it does only with hairpin mode on that port.
#[test]
fn a_container_reaches_its_own_published_port() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    let port = free_port();
    let script = format!(
        "httpd -p 80 -h /www && gw=$(ip route | awk '/^default/ {{print $3}}') && \
         timeout 10 wget -q -O - http://$gw:{port}/index.html"
    );
    let out = net.run(&[
        "run",
        "--rm",
        "--init",
        "-p",
        &format!("{port}:80"),
        &fx(),
        "sh",
        "-c",
        &script,
    ]);
    out.expect_code(0);
    assert_eq!(out.stdout, "hello from berth\n", "{}", out.render());
}

/// Host-wide names derive from the container's id, never its name: two
/// state roots may each have a container called `twin`, running at once,
/// and the second's veth pair must not replace the first's (issue 14).
#[test]
fn same_name_in_two_state_roots_keeps_both_networks() {
    if !require_root() {
        return;
    }
    let (a, b) = (Net::new(), Net::new());
    let (net_a, net_b) = (a.net_name("n"), b.net_name("n"));
    let (subnet_a, subnet_b) = (a.subnet(0), b.subnet(0));
    a.run(&["network", "create", &net_a, "--subnet", &subnet_a])
        .expect_code(0);
    b.run(&["network", "create", &net_b, "--subnet", &subnet_b])
        .expect_code(0);
    let web_ip: Ipv4Addr = subnet_a.replace(".0/24", ".10").parse().unwrap();
    let ip = web_ip.to_string();
    let mut server = a.spawn(&[
        "run",
        "--rm",
        "--init",
        "--network",
        &net_a,
        "--ip",
        &ip,
        "--name",
        "twin",
        &fx(),
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    wait_for(&mut server, SocketAddr::from((web_ip, 80)));
    // The other root's `twin` starts, talks to its gateway, and exits.
    let gw_b = subnet_b.replace(".0/24", ".1");
    b.run(&[
        "run",
        "--rm",
        "--network",
        &net_b,
        "--name",
        "twin",
        &fx(),
        "ping",
        "-c",
        "1",
        "-W",
        "5",
        &gw_b,
    ])
    .expect_code(0);
    // The first `twin` still has its eth0 and still serves.
    let page = wget(web_ip, 80);
    page.expect_code(0);
    assert_eq!(page.stdout, "hello from berth\n", "{}", page.render());
    assert_eq!(server.stop(), 143);
}

// Name resolution on user-defined networks (issue 15): each network's
// resolver listens on its gateway; the default bridge has none.

/// The pid of the running resolver of network `name`, if any.
fn resolver_pid(net: &Net, name: &str) -> Option<u32> {
    let path = net.state().join(format!("network/dns/{name}.pid"));
    ch04_overlay::owner::Owner::read(&path)
        .filter(|o| o.is_alive())
        .map(|o| o.pid)
}

/// Waits (up to 20 s) until process `pid` is gone.
fn wait_gone(pid: u32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while ch04_overlay::owner::process_alive(pid) {
        assert!(
            Instant::now() < deadline,
            "{what} (pid {pid}) is still running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The names table of network `name` (empty when its file is absent).
fn names_of(net: &Net, name: &str) -> ch05_network::names::Table {
    ch05_network::names::read(&net.state().join(format!("network/dns/{name}.json"))).unwrap()
}

/// Waits (up to 90 s) until container `container` is in network `name`'s
/// table; returns its address.
fn wait_named(net: &Net, name: &str, container: &str, server: &mut Background) -> Ipv4Addr {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(ip) = names_of(net, name).lookup(container).first() {
            return *ip;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("the engine of {container} exited ({status}) before it was attached");
        }
        assert!(Instant::now() < deadline, "{container} never joined {name}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A container waiting on its stdin (ended by dropping it).
fn idle(net: &Net, network: &str, name: &str) -> Background {
    net.spawn(&[
        "run",
        "--rm",
        "--network",
        network,
        "--name",
        name,
        &fx(),
        "sh",
        "-c",
        "cat >/dev/null",
    ])
}

/// Ends an [`idle`] container and waits for its run.
fn end(mut run: Background) {
    drop(run.stdin());
    assert_eq!(run.child.wait().unwrap().code(), Some(0));
}

/// `sh -c SCRIPT` in a new container on `network`.
fn on(net: &Net, network: &str, script: &str) -> Outcome {
    net.scenario(&[
        "run",
        "--rm",
        "--network",
        network,
        &fx(),
        "sh",
        "-c",
        script,
    ])
    .timeout(Duration::from_secs(90))
    .run()
}

/// The acceptance for names: on a user-defined network, containers
/// find each other by name and short id, through busybox `nslookup` (its
/// own DNS client) and through the C library's resolver (busybox `wget`
/// calls getaddrinfo of the glibc it is statically linked with, which
/// reads /etc/resolv.conf and asks the nameserver there: no /etc/hosts
/// line names `web`). A container started later is found; one that left
/// is not; a name on another network does not resolve; the default
/// bridge keeps the host's nameservers; each resolver exits with its
/// network's last container.
#[test]
fn containers_find_each_other_by_name() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    let (app, other) = (net.net_name("d"), net.net_name("e"));
    let (sa, sb) = (net.subnet(0), net.subnet(1));
    net.run(&["network", "create", &app, "--subnet", &sa])
        .expect_code(0);
    net.run(&["network", "create", &other, "--subnet", &sb])
        .expect_code(0);
    let web_ip: Ipv4Addr = sa.replace(".0/24", ".10").parse().unwrap();
    let mut web = net.spawn(&[
        "run",
        "--rm",
        "--init",
        "--network",
        &app,
        "--ip",
        &web_ip.to_string(),
        "--name",
        "web",
        &fx(),
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    wait_for(&mut web, SocketAddr::from((web_ip, 80)));
    let id = ch04_overlay::Store::open(&net.state())
        .unwrap()
        .list()
        .unwrap()
        .into_iter()
        .find(|c| c.config.name == "web")
        .unwrap()
        .config
        .id;
    let short = &id[..12];
    let resolver = resolver_pid(&net, &app).expect("web's attach started the resolver");
    let gw = sa.replace(".0/24", ".1");

    let client = on(
        &net,
        &app,
        &format!(
            "grep nameserver /etc/resolv.conf; grep -q web /etc/hosts && echo in-hosts; \
             nslookup web; nslookup {short}; nslookup WEB.; \
             wget -q -O - http://web/index.html"
        ),
    );
    client.expect_code(0);
    // The network's resolver is the only nameserver; web is in no /etc/hosts.
    assert!(
        client
            .stdout
            .starts_with(&format!("nameserver {gw}\nServer:")),
        "{}",
        client.render()
    );
    assert_eq!(
        client
            .stdout
            .matches(&format!("Address: {web_ip}\n"))
            .count(),
        3,
        "{}",
        client.render()
    );
    assert!(
        client.stdout.ends_with("hello from berth\n"),
        "{}",
        client.render()
    );
    assert_eq!(
        resolver_pid(&net, &app),
        Some(resolver),
        "one resolver serves all"
    );

    // A container started later is found, by a container started after it
    // and by one already running (web, which resolves through its own libc).
    let mut db = idle(&net, &app, "db");
    let db_ip = wait_named(&net, &app, "db", &mut db);
    let found = on(&net, &app, "nslookup db");
    found.expect_code(0);
    assert!(
        found.stdout.contains(&format!("Address: {db_ip}\n")),
        "{}",
        found.render()
    );

    // A name on another network does not resolve; that network's own do.
    let mut stranger = idle(&net, &other, "stranger");
    wait_named(&net, &other, "stranger", &mut stranger);
    let from_app = on(&net, &app, "nslookup stranger");
    assert_ne!(from_app.code, 0, "{}", from_app.render());
    let from_other = on(
        &net,
        &other,
        "nslookup stranger && ! nslookup web && ! nslookup db",
    );
    from_other.expect_code(0);

    // A container that left stops resolving at once.
    end(db);
    let gone = on(&net, &app, "nslookup db; echo rc=$?; nslookup web");
    assert!(gone.stdout.contains("rc=1\n"), "{}", gone.render());
    assert!(
        !gone.stdout.contains(&db_ip.to_string()),
        "{}",
        gone.render()
    );
    assert!(
        gone.stdout.contains(&format!("Address: {web_ip}\n")),
        "{}",
        gone.render()
    );

    // The default bridge resolves no names: the host's nameservers, no resolver.
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let plain = on(&net, "bridge", "cat /etc/resolv.conf");
    plain.expect_code(0);
    assert_eq!(
        plain.stdout,
        ch05_network::etc::resolv_conf(&host_resolv, &[])
    );
    assert_eq!(resolver_pid(&net, "bridge"), None);
    assert!(names_of(&net, "bridge").entries.is_empty());

    // Each resolver exits with its network's last container.
    let other_resolver = resolver_pid(&net, &other).unwrap();
    end(stranger);
    wait_gone(
        other_resolver,
        "the resolver of a network with no container",
    );
    assert!(ch04_overlay::owner::process_alive(resolver));
    assert_eq!(web.stop(), 143);
    wait_gone(resolver, "the resolver of a network with no container");
    for name in [&app, &other] {
        let pid_file = net.state().join(format!("network/dns/{name}.pid"));
        assert!(!pid_file.exists(), "{} stayed", pid_file.display());
        assert!(names_of(&net, name).entries.is_empty());
    }
}

/// A DNS server of the test's own on loopback, standing in for the host's
/// resolvers: `example.test` is 192.0.2.77, any other name has no record.
/// Returns its address and the names it was asked, in order.
fn test_upstream() -> (SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use hickory_proto::op::{Message, MessageType, ResponseCode};
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{RData, Record, RecordType};
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let asked = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
    let log = asked.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let q = query.queries()[0].clone();
            log.lock()
                .unwrap()
                .push(format!("{} {}", q.name(), q.query_type()));
            let mut reply = Message::new();
            reply
                .set_id(query.id())
                .set_message_type(MessageType::Response)
                .set_recursion_desired(true)
                .set_recursion_available(true)
                .add_query(q.clone());
            if q.name().to_ascii() == "example.test." {
                if q.query_type() == RecordType::A {
                    let a = A(Ipv4Addr::new(192, 0, 2, 77));
                    reply.add_answer(Record::from_rdata(q.name().clone(), 60, RData::A(a)));
                }
            } else {
                reply.set_response_code(ResponseCode::NXDomain);
            }
            let _ = socket.send_to(&reply.to_vec().unwrap(), peer);
        }
    });
    (addr, asked)
}

/// Names the network does not know are forwarded to the host's resolvers
/// (here the test's own, on loopback) and their answer relayed; the
/// network's own names never leave the host, AAAA included.
#[test]
fn other_names_are_forwarded_upstream() {
    if !require_root() {
        return;
    }
    let mut net = Net::new();
    let (upstream, asked) = test_upstream();
    net.upstream = upstream.to_string();
    let app = net.net_name("f");
    net.run(&["network", "create", &app, "--subnet", &net.subnet(2)])
        .expect_code(0);
    let mut web = idle(&net, &app, "web");
    let web_ip = wait_named(&net, &app, "web", &mut web);
    let out = on(
        &net,
        &app,
        "nslookup example.test; nslookup -type=AAAA web; echo rc=$?; nslookup nosuch.test; echo rc=$?",
    );
    assert!(
        out.stdout.contains("Address: 192.0.2.77\n"),
        "{}",
        out.render()
    );
    // AAAA of a known name: no record, and no error (NOERROR, not NXDOMAIN).
    assert!(out.stdout.contains("rc=0\nServer:"), "{}", out.render());
    assert!(out.stdout.contains("NXDOMAIN"), "{}", out.render());
    assert!(
        !out.stdout.contains(&web_ip.to_string()),
        "{}",
        out.render()
    );
    let asked = asked.lock().unwrap().clone();
    assert!(asked.contains(&"example.test. A".to_string()), "{asked:?}");
    assert!(asked.contains(&"nosuch.test. A".to_string()), "{asked:?}");
    assert!(!asked.iter().any(|q| q.starts_with("web")), "{asked:?}");
    end(web);
}

/// Faults: a resolver killed with SIGKILL is started again by the next
/// attach; a run killed with SIGKILL (its container follows it) leaves its
/// entry in the table, which the resolver ignores at once and the next
/// command's sweep removes; the resolver then exits, alone.
#[test]
fn killed_resolver_and_killed_run_recover() {
    if !require_root() {
        return;
    }
    let net = Net::new();
    let app = net.net_name("g");
    let subnet = net.subnet(3);
    net.run(&["network", "create", &app, "--subnet", &subnet])
        .expect_code(0);
    let web_ip: Ipv4Addr = subnet.replace(".0/24", ".10").parse().unwrap();
    let mut web = net.spawn(&[
        "run",
        "--init",
        "--network",
        &app,
        "--ip",
        &web_ip.to_string(),
        "--name",
        "web",
        &fx(),
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    wait_for(&mut web, SocketAddr::from((web_ip, 80)));
    let first = resolver_pid(&net, &app).unwrap();
    // Started by our run, ended by its pid.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_gone(first, "the killed resolver");
    let again = on(&net, &app, "wget -q -O - http://web/index.html");
    again.expect_code(0);
    assert_eq!(again.stdout, "hello from berth\n");
    let second = resolver_pid(&net, &app).expect("the next attach started a resolver");
    assert_ne!(second, first);

    let container = names_of(&net, &app).entries[0].owner.pid;
    web.child.kill().unwrap();
    web.child.wait().unwrap();
    wait_gone(container, "the container of a killed run");
    assert_eq!(
        names_of(&net, &app).lookup("web"),
        [web_ip],
        "swept too early"
    );
    net.run(&["ls"]).expect_code(0);
    assert!(
        names_of(&net, &app).entries.is_empty(),
        "the sweep kept web's name"
    );
    wait_gone(second, "the resolver of a network with no container");
    net.run(&["rm", "web"]).expect_code(0);
    drop(web);
}
