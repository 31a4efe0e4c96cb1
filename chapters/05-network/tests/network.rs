//! Privileged tests of chapter 5's networking library.
//!
//! Most tests build a whole small world out of network namespaces they
//! create themselves: a "host" namespace (where the bridge, the veth host
//! ends and the iptables rules live, exactly as they would on the real
//! host), "containers" (processes in new network namespaces), and an
//! "outside" namespace in 198.18.0.0/15 standing in for the internet. The
//! library runs on a thread that joined the "host" namespace, so nothing of
//! the real host is touched and deleting the namespaces removes everything.
//! One test (`published_port_on_the_real_host`) runs on the real host with
//! its own bridge, chain prefix and state root, and checks it left nothing.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ch05_network::attach::{Endpoint, Request, attach};
use ch05_network::iptables::{self, Firewall};
use ch05_network::mode::NetworkMode;
use ch05_network::netns::Netns;
use ch05_network::network::Host;
use ch05_network::{bridge, cmd, ipam, sweep, sysctl};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test (or test run) uses at the same time.
fn unique(role: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("berth-test-{}-{n}-{role}", std::process::id())
}

/// A named network namespace (`ip netns add`), deleted on drop.
struct TestNs {
    name: String,
    netns: Netns,
}

impl TestNs {
    fn new(role: &str) -> TestNs {
        let name = unique(role);
        cmd::ip(&["netns", "add", &name]).unwrap();
        let netns = Netns::from_path(format!("/run/netns/{name}")).unwrap();
        let ns = TestNs { name, netns };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NAME ARGS...`.
    fn ip(&self, args: &[&str]) -> String {
        cmd::run(Command::new("ip").args(["-n", &self.name]).args(args)).unwrap()
    }

    /// Runs `f` on a thread inside this namespace.
    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        self.netns.run(f).unwrap()
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = cmd::ip(&["netns", "del", &self.name]);
    }
}

/// The world of one test: a "host" namespace with berth's state in a
/// tempdir, and an "outside" namespace (198.18.0.2) behind an uplink
/// (the host is 198.18.0.1).
struct World {
    host_ns: TestNs,
    outside: TestNs,
    host: Host,
    _state: tempfile::TempDir,
}

const HOST_UPLINK: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const OUTSIDE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

impl World {
    fn new() -> World {
        let host_ns = TestNs::new("host");
        let outside = TestNs::new("outside");
        let out_path = format!("/run/netns/{}", outside.name);
        host_ns.ip(&[
            "link", "add", "uplink", "type", "veth", "peer", "name", "wan", "netns", &out_path,
        ]);
        host_ns.ip(&["addr", "add", "198.18.0.1/24", "dev", "uplink"]);
        host_ns.ip(&["link", "set", "uplink", "up"]);
        outside.ip(&["addr", "add", "198.18.0.2/24", "dev", "wan"]);
        outside.ip(&["link", "set", "wan", "up"]);
        let state = tempfile::tempdir().unwrap();
        let host = Host::new(state.path());
        World {
            host_ns,
            outside,
            host,
            _state: state,
        }
    }

    /// Runs `f` as the host: its commands and sockets are the host's.
    fn on_host<T: Send>(&self, f: impl FnOnce(&Host) -> T + Send) -> T {
        let host = &self.host;
        self.host_ns.run(|| f(host))
    }

    /// A "container": `busybox ARGS...` in a new network namespace.
    fn container(&self, args: &[&str]) -> Container {
        Container::spawn(args)
    }

    /// Attaches `c` as container `name` with `request` changes, on the host.
    fn attach(&self, c: &Container, request: Request) -> Endpoint {
        self.on_host(|host| attach(host, &request, c.pid)).unwrap()
    }

    fn detach(&self, endpoint: Endpoint) {
        self.on_host(|_| endpoint.detach()).unwrap()
    }

    /// `iptables -t TABLE -S CHAIN` on the host.
    fn rules(&self, table: &str, chain: &str) -> Vec<String> {
        self.on_host(|_| iptables::list(table, chain)).unwrap()
    }
}

/// A process in its own network namespace, killed (by pid) on drop.
struct Container {
    child: Child,
    pid: i32,
    netns: Netns,
}

fn busybox() -> PathBuf {
    lab::fixture::rootfs().join("bin/busybox")
}

impl Container {
    fn spawn(args: &[&str]) -> Container {
        let mut cmd = Command::new(busybox());
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null());
        // SAFETY: unshare is a plain system call, safe between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(std::io::Error::from)
            });
        }
        let child = cmd.spawn().unwrap();
        let pid = child.id() as i32;
        // Wait until the child has its own namespace (after unshare, before exec is fine).
        let host_ino = Netns::current().unwrap().inode().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let ino = Netns::from_pid(pid).unwrap().inode().unwrap();
            if ino != host_ino {
                break;
            }
            assert!(Instant::now() < deadline, "container {pid} never unshared");
            std::thread::sleep(Duration::from_millis(10));
        }
        let netns = Netns::from_pid(pid).unwrap();
        Container { child, pid, netns }
    }

    /// `ip ARGS...` inside the container, with interface indexes normalised.
    fn ip(&self, args: &[&str]) -> String {
        let out = cmd::run(self.netns.command("ip").args(args)).unwrap();
        normalise_ifindex(&out)
    }

    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        self.netns.run(f).unwrap()
    }

    fn kill(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.child.wait();
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `eth0@if12` → `eth0@ifN`, and trailing spaces of `ip -br` trimmed.
fn normalise_ifindex(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        let mut l = line.to_string();
        if let Some(at) = l.find("@if") {
            let end = l[at + 3..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(l.len(), |e| at + 3 + e);
            l.replace_range(at..end, "@ifN");
        }
        let words: Vec<&str> = l.split_whitespace().collect();
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

/// Connects (retrying while the server starts) with a short timeout.
fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => return Ok(s),
            Err(e)
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => return Err(e),
        }
    }
}

/// `GET /index.html` over HTTP/1.0; returns the body.
fn http_get(addr: SocketAddr) -> String {
    let mut s = connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(reply)
}

fn bridge_request(name: &str) -> Request {
    Request::new(name, NetworkMode::Bridge)
}

fn httpd_args() -> Vec<String> {
    let www = lab::fixture::rootfs().join("www");
    vec![
        "httpd".into(),
        "-f".into(),
        "-p".into(),
        "80".into(),
        "-h".into(),
        www.display().to_string(),
    ]
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn two_containers_on_one_bridge() {
    if !lab::privileged::require_root() {
        return;
    }
    let world = World::new();
    let web = world.container(&["sleep", "600"]);
    let db = world.container(&["sleep", "600"]);
    let web_ep = world.attach(&web, bridge_request("web"));
    let db_ep = world.attach(&db, bridge_request("db"));
    let (web_ip, db_ip) = (web_ep.ip().unwrap(), db_ep.ip().unwrap());
    assert_eq!(web_ip, Ipv4Addr::new(172, 17, 0, 2));
    assert_eq!(db_ip, Ipv4Addr::new(172, 17, 0, 3));

    // db listens, web connects: the socket's namespace is the one its thread was in.
    let listener = db.run(|| TcpListener::bind("0.0.0.0:7000")).unwrap();
    let sent = web.run(|| {
        let mut s = connect(SocketAddr::from((db_ip, 7000))).unwrap();
        s.write_all(b"hello from web\n")
    });
    sent.unwrap();
    let (mut conn, peer) = listener.accept().unwrap();
    let mut got = String::new();
    conn.read_to_string(&mut got).unwrap();
    assert_eq!(got, "hello from web\n");
    assert_eq!(peer.ip(), web_ip, "same bridge: no NAT between containers");

    let inside = format!(
        "$ ip -br -4 addr   (inside web)\n{}$ ip route   (inside web)\n{}",
        web.ip(&["-br", "-4", "addr"]),
        web.ip(&["route"])
    );
    assert!(inside.contains("eth0@ifN UP 172.17.0.2/16"));
    assert!(inside.contains("default via 172.17.0.1 dev eth0"));
    let ports = world
        .host_ns
        .ip(&["-br", "link", "show", "master", "berth0"]);
    assert_eq!(
        ports.lines().count(),
        2,
        "two veth host ends on berth0: {ports}"
    );
    let report = format!(
        "{inside}db received {got:?} from {peer_ip}\n",
        peer_ip = peer.ip()
    );
    insta::assert_snapshot!("two_containers_on_one_bridge", report);

    world.detach(web_ep);
    world.detach(db_ep);
    assert_eq!(
        world
            .host_ns
            .ip(&["-br", "link", "show", "master", "berth0"]),
        ""
    );
}

#[test]
fn bridges_are_isolated() {
    if !lab::privileged::require_root() {
        return;
    }
    let world = World::new();
    let (a, b) = world.on_host(|host| {
        (
            host.create_network("front", Some("10.10.0.0/24".parse().unwrap()))
                .unwrap(),
            host.create_network("back", Some("10.20.0.0/24".parse().unwrap()))
                .unwrap(),
        )
    });
    let web = world.container(&["sleep", "600"]);
    let db = world.container(&["sleep", "600"]);
    let web_ep = world.attach(
        &web,
        Request::new("web", NetworkMode::Named(a.name.clone())),
    );
    let db_ep = world.attach(&db, Request::new("db", NetworkMode::Named(b.name.clone())));
    let db_ip = db_ep.ip().unwrap();
    let _listener = db.run(|| TcpListener::bind("0.0.0.0:7000")).unwrap();

    let blocked = web.run(|| {
        TcpStream::connect_timeout(&SocketAddr::from((db_ip, 7000)), Duration::from_secs(2))
    });
    assert!(blocked.is_err(), "front reached back: {blocked:?}");

    let stage1 = world.rules("filter", "BERTH-ISOLATION-1");
    let stage2 = world.rules("filter", "BERTH-ISOLATION-2");
    // Without the isolation rules, the host routes between its bridges.
    world
        .on_host(|host| host.firewall.set_isolation(&[]))
        .unwrap();
    let open = web.run(|| connect(SocketAddr::from((db_ip, 7000))));
    assert!(
        open.is_ok(),
        "without isolation the host forwards: {open:?}"
    );
    world
        .on_host(|host| {
            host.firewall
                .set_isolation(&[a.bridge.clone(), b.bridge.clone()])
        })
        .unwrap();

    let report = format!(
        "web (front, {}) -> db (back, {db_ip}):7000: {}\n$ iptables -S BERTH-ISOLATION-1\n{}\n$ iptables -S BERTH-ISOLATION-2\n{}\n",
        web_ep.ip().unwrap(),
        blocked
            .map(|_| "connected".to_string())
            .unwrap_or_else(|e| e.kind().to_string()),
        stage1.join("\n"),
        stage2.join("\n")
    );
    insta::assert_snapshot!("bridges_are_isolated", report);
    world.detach(web_ep);
    world.detach(db_ep);
    world.on_host(|host| {
        host.remove_network("front").unwrap();
        host.remove_network("back").unwrap();
        assert!(
            !host.firewall.installed().unwrap(),
            "chains go with the last network"
        );
    });
}

#[test]
fn outbound_nat_shows_the_host_address() {
    if !lab::privileged::require_root() {
        return;
    }
    let world = World::new();
    let app = world.container(&["sleep", "600"]);
    let ep = world.attach(&app, bridge_request("app"));
    let app_ip = ep.ip().unwrap();

    // The outside has no route to 172.17.0.0/16: only masquerade lets it answer.
    let routes = world.outside.ip(&["route"]);
    assert!(!routes.contains("172.17"), "{routes}");
    let server = world
        .outside
        .run(|| TcpListener::bind((OUTSIDE, 9000)))
        .unwrap();
    let client = std::thread::scope(|s| {
        let c = s.spawn(|| {
            app.run(|| {
                let mut conn = connect(SocketAddr::from((OUTSIDE, 9000)))?;
                conn.write_all(b"hi\n")
            })
        });
        let (_conn, peer) = server.accept().unwrap();
        c.join().unwrap().unwrap();
        peer
    });
    assert_eq!(
        client.ip(),
        HOST_UPLINK,
        "the server sees the host's address"
    );
    assert_ne!(client.ip(), app_ip);

    let report = format!(
        "container {app_ip} connected to {OUTSIDE}:9000\nthe server saw the connection come from {}\n$ iptables -t nat -S BERTH-POSTROUTING\n{}\n$ sysctl net.ipv4.ip_forward\n{}\n",
        client.ip(),
        world.rules("nat", "BERTH-POSTROUTING").join("\n"),
        world
            .on_host(|_| sysctl::get("net.ipv4.ip_forward"))
            .unwrap(),
    );
    insta::assert_snapshot!("outbound_nat_shows_the_host_address", report);
    world.detach(ep);
}

#[test]
fn published_port_reaches_the_container() {
    if !lab::privileged::require_root() {
        return;
    }
    let world = World::new();
    let args = httpd_args();
    let web = world.container(&as_strs(&args));
    let mut request = bridge_request("web");
    request.ports = vec!["8080:80".parse().unwrap()];
    let ep = world.attach(&web, request);

    let (lo, uplink) = world.on_host(|_| {
        (
            http_get(SocketAddr::from((Ipv4Addr::LOCALHOST, 8080))),
            http_get(SocketAddr::from((HOST_UPLINK, 8080))),
        )
    });
    let from_outside = world
        .outside
        .run(|| http_get(SocketAddr::from((HOST_UPLINK, 8080))));
    assert_eq!(lo, "hello from berth\n");
    assert_eq!(uplink, "hello from berth\n");
    assert_eq!(from_outside, "hello from berth\n");
    let report = format!(
        "host   -> 127.0.0.1:8080  : {lo}host   -> 198.18.0.1:8080 : {uplink}outside -> 198.18.0.1:8080: {from_outside}$ iptables -t nat -S BERTH-PREROUTING\n{}\n$ iptables -t nat -S BERTH-OUTPUT\n{}\n",
        world.rules("nat", "BERTH-PREROUTING").join("\n"),
        world.rules("nat", "BERTH-OUTPUT").join("\n"),
    );
    insta::assert_snapshot!("published_port_reaches_the_container", report);

    // A second container cannot take the same host port.
    let other = world.container(&["sleep", "600"]);
    let mut clash = bridge_request("other");
    clash.ports = vec!["8080:81".parse().unwrap()];
    let err = world
        .on_host(|host| attach(host, &clash, other.pid))
        .unwrap_err();
    assert_eq!(
        err.message,
        "port 8080 is already published by container web (8080:80/tcp)"
    );

    world.detach(ep);
    assert_eq!(
        world.rules("nat", "BERTH-PREROUTING"),
        ["-N BERTH-PREROUTING"]
    );
}

#[test]
fn none_and_host_modes() {
    if !lab::privileged::require_root() {
        return;
    }
    let world = World::new();
    let boxed = world.container(&["sleep", "600"]);
    let ep = world.attach(&boxed, Request::new("boxed", NetworkMode::None));
    assert!(matches!(ep, Endpoint::None));
    let links = boxed.ip(&["-br", "link"]);
    assert_eq!(links.lines().count(), 1, "only lo: {links}");
    assert!(links.starts_with("lo UNKNOWN"));
    let host_ep = world
        .on_host(|host| {
            attach(
                host,
                &Request::new("h", NetworkMode::Host),
                std::process::id() as i32,
            )
        })
        .unwrap();
    assert!(matches!(host_ep, Endpoint::Host));
    assert!(!NetworkMode::Host.needs_new_netns());
    // Neither mode created a bridge or a rule.
    assert!(!world.on_host(|_| bridge::link_exists("berth0")).unwrap());
    assert!(!world.on_host(|host| host.firewall.installed()).unwrap());
    let report = format!("$ ip -br link   (inside, --network none)\n{links}");
    insta::assert_snapshot!("none_mode_has_only_lo", report);
}

#[test]
fn concurrent_allocations_are_distinct() {
    if !lab::privileged::require_root() {
        return;
    }
    let world = World::new();
    let containers: Vec<Container> = (0..20)
        .map(|_| world.container(&["sleep", "600"]))
        .collect();
    let shared = &world;
    let endpoints: Vec<Endpoint> = std::thread::scope(|s| {
        let handles: Vec<_> = containers
            .iter()
            .enumerate()
            .map(|(i, c)| s.spawn(move || shared.attach(c, bridge_request(&format!("c{i}")))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ips: Vec<Ipv4Addr> = endpoints.iter().map(|e| e.ip().unwrap()).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 20, "20 runs, 20 distinct addresses");
    let allocated = world.on_host(|host| {
        let lock = host.state.lock().unwrap();
        ipam::load(&lock, &host.state, "bridge")
            .unwrap()
            .addresses
            .len()
    });
    assert_eq!(allocated, 20);
    let report = format!(
        "{} containers, {} distinct addresses: {} .. {}\n",
        containers.len(),
        ips.len(),
        ips[0],
        ips[19]
    );
    insta::assert_snapshot!("concurrent_allocations_are_distinct", report);
    for e in endpoints {
        world.detach(e);
    }
    let file = world.on_host(|host| ipam::path(&host.state, "bridge"));
    assert!(!file.exists(), "every address released");
}

#[test]
fn killed_container_is_swept() {
    if !lab::privileged::require_root() {
        return;
    }
    let world = World::new();
    let mut victim = world.container(&["sleep", "600"]);
    let mut request = bridge_request("victim");
    request.ports = vec!["9090:90".parse().unwrap()];
    let ep = world.attach(&victim, request);
    let ip = ep.ip().unwrap();
    // SIGKILL runs no cleanup, and neither does forgetting the endpoint.
    victim.kill();
    std::mem::forget(ep);
    assert!(
        world
            .rules("nat", "BERTH-PREROUTING")
            .iter()
            .any(|r| r.contains("9090"))
    );

    let report = world.on_host(sweep::sweep).unwrap();
    assert_eq!(
        report,
        [format!(
            "reclaimed {ip} of network bridge from container victim (pid {} is gone)",
            victim.pid
        )]
    );
    assert!(
        !world
            .rules("nat", "BERTH-PREROUTING")
            .iter()
            .any(|r| r.contains("9090"))
    );
    // The next container gets the address back.
    let next = world.container(&["sleep", "600"]);
    let ep = world.attach(&next, bridge_request("next"));
    assert_eq!(ep.ip(), Some(ip));
    world.detach(ep);
    // An unmoved pair (a run killed between `ip link add` and the move) is swept too.
    world.host_ns.ip(&[
        "link",
        "add",
        "bv-deadbeef",
        "type",
        "veth",
        "peer",
        "name",
        "bc-deadbeef",
    ]);
    let report = world.on_host(sweep::sweep).unwrap();
    assert_eq!(
        report,
        ["removed veth bv-deadbeef (never reached a container)"]
    );
}

#[test]
fn named_networks_create_ls_rm() {
    if !lab::privileged::require_root() {
        return;
    }
    let world = World::new();
    let mut out = String::new();
    world.on_host(|host| {
        let n = host
            .create_network("backend", Some("10.30.0.0/24".parse().unwrap()))
            .unwrap();
        assert_eq!(n.bridge, "berth-backend");
        assert_eq!(n.gateway, Ipv4Addr::new(10, 30, 0, 1));
        assert!(bridge::link_exists("berth-backend").unwrap());
        // Idempotent bring-up: the same network again changes nothing.
        let lock = host.state.lock().unwrap();
        let before = iptables::list("nat", "BERTH-POSTROUTING").unwrap();
        host.up(&lock, &n).unwrap();
        assert_eq!(iptables::list("nat", "BERTH-POSTROUTING").unwrap(), before);
        drop(lock);
        let dup = host.create_network("backend", None).unwrap_err();
        assert_eq!(dup.message, "network backend already exists");
        let overlap = host
            .create_network("other", Some("10.30.0.128/25".parse().unwrap()))
            .unwrap_err();
        assert_eq!(
            overlap.message,
            "subnet 10.30.0.128/25 overlaps network backend (10.30.0.0/24): choose another --subnet"
        );
        let route = host
            .create_network("wan", Some("198.18.0.0/16".parse().unwrap()))
            .unwrap_err();
        assert!(
            route
                .message
                .contains("overlaps the host's route to 198.18.0.0/24 via uplink"),
            "{}",
            route.message
        );
        let auto = host.create_network("auto", None).unwrap();
        out.push_str("NAME      BRIDGE         SUBNET\n");
        for n in host.list_networks().unwrap() {
            out.push_str(&format!("{:<9} {:<14} {}\n", n.name, n.bridge, n.subnet));
        }
        assert_eq!(auto.subnet.to_string(), "172.17.0.0/16");
        host.remove_network("backend").unwrap();
        host.remove_network("auto").unwrap();
        assert!(!bridge::link_exists("berth-backend").unwrap());
        assert!(host.list_networks().unwrap().is_empty());
        assert!(!host.firewall.installed().unwrap());
        let missing = host.remove_network("backend").unwrap_err();
        assert_eq!(missing.message, "network backend not found");
    });
    insta::assert_snapshot!("named_networks_ls", out);
}

/// The real host, as `docker run -p` is used: a published port on
/// 127.0.0.1 and on the host's own address. Unique bridge, chains and
/// state; the host's ip_forward restored; nothing left behind.
#[test]
fn published_port_on_the_real_host() {
    if !lab::privileged::require_root() {
        return;
    }
    // The pid in every name: unique, and `cargo lab test` can tell a
    // concurrent run's resources from leftovers.
    let tag = std::process::id().to_string();
    let state = tempfile::tempdir().unwrap();
    let mut host = Host::new(state.path());
    host.firewall = Firewall::with_prefix(&format!("BERTHT{tag}")).unwrap();
    host.default_bridge = format!("berth-t{tag}");
    let forward_before = sysctl::get("net.ipv4.ip_forward").unwrap();
    let port = 20000 + (std::process::id() % 20000) as u16;

    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let args = httpd_args();
        let web = Container::spawn(&as_strs(&args));
        let mut request = bridge_request(&format!("real-{tag}"));
        request.ports = vec![format!("{port}:80").parse().unwrap()];
        let ep = attach(&host, &request, web.pid).unwrap();
        let gateway = match &ep {
            Endpoint::Bridge(a) => a.gateway(),
            _ => unreachable!(),
        };
        // The host's address: its first global IPv4 address outside berth
        // bridges, or the bridge's own address when it has none (both are local).
        let addrs = cmd::ip_json(&["-4", "addr", "show", "scope", "global"]).unwrap();
        let host_ip = addrs
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| !l["ifname"].as_str().unwrap_or("").starts_with("berth"))
            .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
            .find_map(|a| a["local"].as_str()?.parse::<Ipv4Addr>().ok())
            .unwrap_or(gateway);
        assert_eq!(
            http_get(SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
            "hello from berth\n"
        );
        assert_eq!(
            http_get(SocketAddr::from((host_ip, port))),
            "hello from berth\n"
        );
        ep.detach().unwrap();
        let lock = host.state.lock().unwrap();
        let bridge_net = host.network(&lock, "bridge").unwrap().unwrap();
        drop(lock);
        assert!(bridge::link_exists(&bridge_net.bridge).unwrap());
        host.delete_network("bridge").unwrap();
    }));
    // Whatever happened: the network, chains and forwarding as they were.
    let _ = host.delete_network("bridge");
    let _ = host.firewall.remove_all();
    let _ = bridge::delete_link(&host.default_bridge);
    let _ = sysctl::set("net.ipv4.ip_forward", &forward_before);
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
    assert!(!bridge::link_exists(&host.default_bridge).unwrap());
    assert!(!host.firewall.installed().unwrap());
    let prefix = host.firewall.prefix.clone();
    for table in ["nat", "filter"] {
        let left: Vec<String> = iptables::list(table, "")
            .unwrap()
            .into_iter()
            .filter(|r| r.contains(&prefix))
            .collect();
        assert!(left.is_empty(), "rules left in {table}: {left:?}");
    }
    assert_eq!(sysctl::get("net.ipv4.ip_forward").unwrap(), forward_before);
    let veths = cmd::ip_json(&["link", "show", "type", "veth"]).unwrap();
    let host_end = ch05_network::veth::VethPair::for_container(&format!("real-{tag}")).host;
    assert!(!veths.to_string().contains(&host_end));
}

/// The test namespaces of this process are all gone once their tests end
/// (each test deletes its own; this checks the mechanism on a fresh one).
#[test]
fn test_namespaces_are_removed() {
    if !lab::privileged::require_root() {
        return;
    }
    let name = {
        let world = World::new();
        world.host_ns.name.clone()
    };
    assert!(!std::path::Path::new("/run/netns").join(&name).exists());
}

/// `cargo lab test` fails on leftovers: a stray bridge, an unattached veth
/// and chains, made in a test namespace, are reported; a test run's own
/// (named after a live pid) are not.
#[test]
fn leftovers_are_reported() {
    if !lab::privileged::require_root() {
        return;
    }
    let world = World::new();
    let me = std::process::id();
    let root = tempfile::tempdir().unwrap();
    let found = world.on_host(|_| {
        cmd::ip(&["link", "add", "berth-stray", "type", "bridge"]).unwrap();
        cmd::ip(&["link", "add", &format!("berth-t{me}"), "type", "bridge"]).unwrap();
        cmd::ip(&[
            "link",
            "add",
            "bv-00000001",
            "type",
            "veth",
            "peer",
            "name",
            "bc-00000001",
        ])
        .unwrap();
        Firewall::with_prefix("BERTHX")
            .unwrap()
            .ensure_chains()
            .unwrap();
        Firewall::with_prefix(&format!("BERTHT{me}"))
            .unwrap()
            .ensure_chains()
            .unwrap();
        sweep::leftovers(&[root.path().to_path_buf()]).unwrap()
    });
    let here: Vec<&String> = found
        .iter()
        .filter(|l| !l.starts_with("network namespace"))
        .collect();
    assert_eq!(
        here,
        [
            "link berth-stray",
            "link bv-00000001",
            "iptables chains BERTHX-*"
        ]
    );
}

/// The library as steps of chapter 2's start sequence: a real container
/// (busybox httpd, with pid, mount, uts... namespaces and pivot_root)
/// serves on a published port, and a second one finds its own name in the
/// generated /etc/hosts and reaches the first across the bridge.
#[test]
fn start_sequence_with_the_network_steps() {
    use ch02_namespaces::{Spec, StartSequence, start};
    use ch05_network::step::{EtcFilesStep, NetworkStep};
    if !lab::privileged::require_root() {
        return;
    }
    // `start` forks this process: run alone, away from other test threads.
    if !lab::solo::in_own_process("start_sequence_with_the_network_steps") {
        return;
    }
    let world = World::new();
    let etc = tempfile::tempdir().unwrap();
    let (web_dir, check_dir) = (etc.path().join("web"), etc.path().join("check"));
    let rootfs = lab::fixture::rootfs();
    let (body, code) = world.on_host(|host| {
        let sequence = |name: &str, dir: &std::path::Path, ports: &[&str]| {
            let mut request = bridge_request(name);
            request.ports = ports.iter().map(|p| p.parse().unwrap()).collect();
            let mut seq = StartSequence::standard();
            seq.parent_step(Box::new(NetworkStep::new(host.clone(), request, dir)));
            seq.child_step_before("pivot_root", Box::new(EtcFilesStep::new(dir)));
            seq
        };
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut web = Spec::new(&rootfs, argv(&["httpd", "-f", "-p", "80", "-h", "/www"]));
        web.set_hostname("web");
        let web_c = start(&web, sequence("web", &web_dir, &["8080:80"])).unwrap();
        let body = http_get(SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)));
        let script = "grep -q \"$(hostname)\" /etc/hosts && grep -q '^172.17.0.3\tcheck$' /etc/hosts \
                      && wget -q -O - http://172.17.0.2/index.html | grep -q 'hello from berth'";
        let mut check = Spec::new(&rootfs, argv(&["sh", "-c", script]));
        check.set_hostname("check");
        let check_c = start(&check, sequence("check", &check_dir, &[])).unwrap();
        // Reap directly: waitpid needs no signal delivery to this thread.
        let status = nix::sys::wait::waitpid(check_c.pid(), None).unwrap();
        drop(check_c);
        drop(web_c);
        (body, status)
    });
    assert_eq!(body, "hello from berth\n");
    assert_eq!(
        code,
        nix::sys::wait::WaitStatus::Exited(code.pid().unwrap(), 0)
    );
    assert_eq!(
        std::fs::read_to_string(web_dir.join("hostname")).unwrap(),
        "web\n"
    );
    // Both teardowns ran: no allocation, no port rule.
    assert!(
        !world
            .on_host(|host| ipam::path(&host.state, "bridge"))
            .exists()
    );
    assert_eq!(
        world.rules("nat", "BERTH-PREROUTING"),
        ["-N BERTH-PREROUTING"]
    );
}

/// A container's check of its network's rules is left out only while the
/// ruleset's generation is the one at which they were seen whole: its own
/// rules, added and removed, keep it; anyone else's change (here a flush
/// of berth's chain) moves it, and the next check notices. In a namespace
/// of its own, whose generation no other test moves.
#[test]
fn the_check_is_left_out_only_on_an_unchanged_ruleset() {
    use ch05_network::iptables::BridgeNet;
    use ch05_network::lock::StateRoot;
    use ch05_network::verified::Verified;
    if !lab::privileged::require_root() {
        return;
    }
    let ns = TestNs::new("gen");
    let dir = tempfile::tempdir().unwrap();
    let state = StateRoot::new(dir.path());
    let fw = Firewall::with_prefix("BTGEN").unwrap();
    let net = BridgeNet {
        bridge: "br-gen".into(),
        subnet: "10.77.0.1/24".parse().unwrap(),
        internal: false,
    };
    let ip = Ipv4Addr::new(10, 77, 0, 2);
    let port = ["8080:80".parse().unwrap()];
    ns.run(|| {
        fw.add_network(&net).unwrap();
        let verified = Verified::new(&state, "gen", &fw);
        assert!(!verified.unchanged(), "nothing was recorded yet");
        let check = fw.container_transaction(&net, ip, &[]);
        verified.apply(&check, true).unwrap();
        assert!(verified.unchanged());
        let ports = fw.ports_transaction(&net.bridge, ip, &port);
        verified.apply(&ports, false).unwrap();
        assert!(verified.unchanged(), "a container's own rules keep it");
        let removal = fw.removal_transaction(&net.bridge, ip, &port);
        verified.apply(&removal, false).unwrap();
        assert!(verified.unchanged(), "so does their removal");
        cmd::run(Command::new("iptables").args(["-w", "-F", "BTGEN-FORWARD"])).unwrap();
        assert!(!verified.unchanged(), "a flush moves the generation");
        assert!(verified.apply(&check, true).is_err(), "the check notices");
        assert!(!verified.unchanged());
        fw.add_network(&net).unwrap();
        verified.apply(&check, true).unwrap();
        assert!(verified.unchanged());
    });
}

/// A ruleset flushed behind berth's back (one chain of the filter table)
/// is noticed by the next container with a published port and brought
/// back; the batch that noticed it had already committed its nat table,
/// and none of that is left twice: after the container, no rule names
/// its address.
#[test]
fn a_flushed_chain_is_brought_back_exactly() {
    if !lab::privileged::require_root() {
        return;
    }
    let world = World::new();
    let first = world.container(&["sleep", "600"]);
    let ep = world.attach(&first, bridge_request("first"));
    world.detach(ep);
    let forward = world.rules("filter", "BERTH-FORWARD");
    world
        .on_host(|_| cmd::run(Command::new("iptables").args(["-w", "-F", "BERTH-FORWARD"])))
        .unwrap();
    let web = world.container(&["sleep", "600"]);
    let mut request = bridge_request("web");
    request.ports = vec!["8080:80".parse().unwrap()];
    let ep = world.attach(&web, request);
    let ip = ep.ip().unwrap().to_string();
    let dnat = world.rules("nat", "BERTH-PREROUTING");
    assert_eq!(
        dnat.iter().filter(|r| r.contains(&ip)).count(),
        1,
        "{dnat:#?}"
    );
    let now = world.rules("filter", "BERTH-FORWARD");
    assert!(forward.iter().all(|r| now.contains(r)), "{now:#?}");
    world.detach(ep);
    for (table, chain) in [
        ("nat", "BERTH-PREROUTING"),
        ("nat", "BERTH-OUTPUT"),
        ("nat", "BERTH-POSTROUTING"),
        ("filter", "BERTH-FORWARD"),
    ] {
        let left = world.rules(table, chain);
        assert!(!left.iter().any(|r| r.contains(&ip)), "{left:#?}");
    }
}
