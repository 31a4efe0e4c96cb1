//! User-defined networks through `berth`: containers on one network reach
//! each other, not those of another; `--internal` has no way out;
//! `network connect/disconnect` on running and stopped containers; `-P`
//! and `port` agree; bad input refused with nothing made; a killed
//! monitor's endpoints released. Each test's networks carry its own tag
//! (see common), and traffic stays on loopback or in namespaces made here.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::Setup;
use serde_json::Value;

/// busybox httpd serving "hello from NAME" on port 80.
fn web(name: &str) -> Vec<String> {
    let script = format!(
        "mkdir -p /srv && echo hello from {name} > /srv/index.html && exec httpd -f -p 80 -h /srv"
    );
    vec!["sh".into(), "-c".into(), script]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `berth ARGS` as it prints them (ids unmasked), which must succeed.
fn raw(s: &Setup, args: &[&str]) -> String {
    let out = s.command(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// `network inspect NAME`, parsed.
fn network(s: &Setup, name: &str) -> Value {
    let all: Value = serde_json::from_str(&raw(s, &["network", "inspect", name])).unwrap();
    all[0].clone()
}

/// `inspect --format TEMPLATE CONTAINER`, ids unmasked.
fn inspect_raw(s: &Setup, container: &str, template: &str) -> String {
    raw(s, &["inspect", "--format", template, container])
        .trim()
        .to_string()
}

/// The container's address on `net` (from `inspect`).
fn ip_on(s: &Setup, container: &str, net: &str) -> String {
    s.inspect(
        container,
        &format!("{{{{.NetworkSettings.Networks.{net}.IPAddress}}}}"),
    )
}

/// `wget` of `http://IP/` from a new container on `net`: its output and exit code.
fn fetch_from(s: &Setup, net: &str, ip: &str) -> (i32, String) {
    let url = format!("http://{ip}:80/");
    let out = s.berth(&[
        "run",
        "--rm",
        // An init as pid 1: `timeout`'s SIGTERM must reach wget.
        "--init",
        "--pull",
        "never",
        "--network",
        net,
        &s.image,
        "timeout",
        "3",
        "wget",
        "-q",
        "-O",
        "-",
        &url,
    ]);
    (out.code, format!("{}{}", out.stdout, out.stderr))
}

/// `wget` of `http://IP/` from inside a running container (`exec`).
fn fetch_in(s: &Setup, container: &str, ip: &str) -> (i32, String) {
    let url = format!("http://{ip}:80/");
    // (busybox's own `wget -T` crashes: `timeout` bounds it instead.)
    let out = s.berth(&[
        "exec", container, "timeout", "3", "wget", "-q", "-O", "-", &url,
    ]);
    (out.code, out.stdout)
}

/// Polls `fetch` until the server answers (httpd takes a moment).
fn answered(fetch: impl Fn() -> (i32, String), want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = fetch();
        if code == 0 && body.contains(want) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "no answer: code {code}, {body:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The interfaces and default route a container sees.
fn interfaces(s: &Setup, container: &str) -> String {
    let out = s.berth(&["exec", container, "ip", "-o", "-4", "addr", "show"]);
    out.expect_code(0);
    out.stdout
}

/// Host links that belong to the container with id `id` (its veth pairs).
fn veths_of(s: &Setup, ids: &[String]) -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    let _ = s;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .filter(|n| ids.iter().any(|id| n == &format!("bv-{}", &id[..12])))
        .collect()
}

#[test]
fn containers_on_a_network_reach_each_other_and_no_one_else() {
    let s = Setup::new();
    s.berth(&["network", "create", "app"]).expect_code(0);
    s.berth(&["network", "create", "other"]).expect_code(0);
    s.run_detached(
        &[
            "--name",
            "db",
            "--network",
            "app",
            "--network-alias",
            "database",
        ],
        &strs(&web("db")),
    );
    s.wait_status("db", "running");
    let ip = ip_on(&s, "db", "app");
    assert!(ip.parse::<Ipv4Addr>().is_ok(), "{ip:?}");
    // Same network: by address.
    let body = answered(|| fetch_from(&s, "app", &ip), "hello from db");
    assert_eq!(body, "hello from db\n");
    // Another network: isolated (dropped between bridges, wget times out).
    let (code, body) = fetch_from(&s, "other", &ip);
    assert_ne!(code, 0, "reached across networks: {body}");

    // network inspect: Docker's shape, with db attached.
    let app = network(&s, "app");
    assert_eq!(app["Name"], "app");
    assert_eq!(app["Driver"], "bridge");
    assert_eq!(app["Internal"], false);
    let id = app["Id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 64);
    let subnet = app["IPAM"]["Config"][0]["Subnet"].as_str().unwrap();
    let gateway = app["IPAM"]["Config"][0]["Gateway"].as_str().unwrap();
    assert_eq!(
        s.inspect("db", "{{.NetworkSettings.Networks.app.Gateway}}"),
        gateway
    );
    assert_eq!(
        inspect_raw(&s, "db", "{{.NetworkSettings.Networks.app.NetworkID}}"),
        id
    );
    assert_eq!(
        s.inspect("db", "{{json .NetworkSettings.Networks.app.Aliases}}"),
        r#"["database"]"#
    );
    let db_id = inspect_raw(&s, "db", "{{.Id}}");
    let entry = &app["Containers"][&db_id];
    assert_eq!(entry["Name"], "db");
    let prefix = subnet.split('/').nth(1).unwrap();
    assert_eq!(entry["IPv4Address"], format!("{ip}/{prefix}"));
    let octets: Vec<String> = ip
        .split('.')
        .map(|o| format!("{:02x}", o.parse::<u8>().unwrap()))
        .collect();
    assert_eq!(entry["MacAddress"], format!("02:42:{}", octets.join(":")));
    // The container sees that address on the hardware address inspect shows.
    let link = s.berth(&["exec", "db", "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(link.stdout.trim(), entry["MacAddress"]);

    // network ls: Docker's columns, -q, --filter name=.
    let ls = raw(&s, &["network", "ls"]);
    let header: Vec<&str> = ls.lines().next().unwrap().split("   ").collect();
    let header: Vec<&str> = header
        .iter()
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
        .collect();
    assert_eq!(header, ["NETWORK ID", "NAME", "DRIVER", "SCOPE"]);
    assert!(
        ls.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == [&id[..12], "app", "bridge", "local"]),
        "{ls}"
    );
    let only = raw(&s, &["network", "ls", "--filter", "name=app", "-q"]);
    assert_eq!(only, format!("{}\n", &id[..12]));

    // rm of an attached network: refused, with the way out; kept.
    let rm = s.berth(&["network", "rm", "app"]);
    assert_eq!(rm.code, 1, "{rm:?}");
    assert_eq!(rm.stderr.lines().count(), 1, "{rm:?}");
    assert!(
        rm.stderr.contains("has active endpoints (db)")
            && rm.stderr.contains("berth network disconnect app db"),
        "{rm:?}"
    );
    assert_eq!(network(&s, "app")["Id"], id.as_str());
    // Once the container is gone, rm works (by id too).
    s.berth(&["rm", "-f", "db"]).expect_code(0);
    s.berth(&["network", "rm", &id[..12]]).expect_code(0);
    let gone = s.berth(&["network", "inspect", "app"]);
    assert_eq!(gone.code, 1);
    // prune takes the unused one.
    let prune = s.berth(&["network", "prune", "-f"]);
    prune.expect_code(0);
    assert_eq!(prune.stdout, "Deleted Networks:\nother\n");
}

#[test]
fn connect_and_disconnect_running_and_stopped_containers() {
    let s = Setup::new();
    s.berth(&["network", "create", "app"]).expect_code(0);
    s.berth(&["network", "create", "side"]).expect_code(0);
    s.run_detached(&["--name", "web", "--network", "app"], &strs(&web("web")));
    s.run_detached(
        &["--name", "client", "--network", "side"],
        &["sleep", "1000"],
    );
    s.wait_status("web", "running");
    s.wait_status("client", "running");
    let web_ip = ip_on(&s, "web", "app");
    answered(|| fetch_from(&s, "app", &web_ip), "hello from web");
    let (code, _) = fetch_in(&s, "client", &web_ip);
    assert_ne!(code, 0, "client reached app before joining it");

    // A running container joins: eth1, with the address and alias asked for.
    let app = network(&s, "app");
    let subnet: ch05_network::cidr::Cidr = app["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let wanted = subnet.host(77).unwrap().to_string();
    s.berth(&[
        "network", "connect", "--ip", &wanted, "--alias", "cli", "app", "client",
    ])
    .expect_code(0);
    let seen = interfaces(&s, "client");
    assert!(
        seen.lines()
            .any(|l| l.contains("eth1") && l.contains(&format!("{wanted}/"))),
        "{seen}"
    );
    assert_eq!(ip_on(&s, "client", "app"), wanted);
    assert_eq!(
        s.inspect("client", "{{json .NetworkSettings.Networks.app.Aliases}}"),
        r#"["cli"]"#
    );
    assert!(!ip_on(&s, "client", "side").is_empty());
    let body = answered(|| fetch_in(&s, "client", &web_ip), "hello from web");
    assert_eq!(body, "hello from web\n");
    // Twice: refused.
    let again = s.berth(&["network", "connect", "app", "client"]);
    again.expect_code(125);
    assert!(again.stderr.contains("already connected"), "{again:?}");
    // And leaves: eth1 gone, app out of reach again.
    s.berth(&["network", "disconnect", "app", "client"])
        .expect_code(0);
    let seen = interfaces(&s, "client");
    assert!(!seen.contains("eth1"), "{seen}");
    let (code, _) = fetch_in(&s, "client", &web_ip);
    assert_ne!(code, 0, "client still reaches app");
    let networks = s.inspect("client", "{{json .NetworkSettings.Networks}}");
    assert!(
        !networks.contains("\"app\"") && networks.contains("\"side\""),
        "{networks}"
    );
    let none = s.berth(&["network", "disconnect", "app", "client"]);
    none.expect_code(125);
    assert!(none.stderr.contains("is not connected"), "{none:?}");
    s.berth(&["network", "disconnect", "-f", "app", "client"])
        .expect_code(0);

    // A created container: recorded, joined at its start, as eth1.
    s.berth(&[
        "create",
        "--pull",
        "never",
        "--name",
        "later",
        "--network",
        "side",
        &s.image,
        "sleep",
        "1000",
    ])
    .expect_code(0);
    s.berth(&["network", "connect", "app", "later"])
        .expect_code(0);
    s.berth(&["start", "later"]).expect_code(0);
    s.wait_status("later", "running");
    let seen = interfaces(&s, "later");
    assert!(seen.contains("eth0") && seen.contains("eth1"), "{seen}");
    answered(|| fetch_in(&s, "later", &web_ip), "hello from web");
    // Stopped, it leaves app; started again, it has only side.
    s.berth(&["stop", "-t", "0", "later"]).expect_code(0);
    s.berth(&["network", "disconnect", "app", "later"])
        .expect_code(0);
    s.berth(&["start", "later"]).expect_code(0);
    s.wait_status("later", "running");
    let seen = interfaces(&s, "later");
    assert!(seen.contains("eth0") && !seen.contains("eth1"), "{seen}");

    // Nothing of the stopped containers is left on the networks.
    s.berth(&["rm", "-f", "later", "client", "web"])
        .expect_code(0);
    assert!(
        network(&s, "app")["Containers"]
            .as_object()
            .unwrap()
            .is_empty()
    );
    s.berth(&["network", "rm", "app", "side"]).expect_code(0);
}

/// A namespace standing in for the internet: at 198.18.N.2/30 behind a
/// veth pair whose host end is 198.18.N.1; an HTTP server in it counts
/// the requests it answers. Deleted on drop.
struct Outside {
    name: String,
    ip: Ipv4Addr,
    served: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
}

impl Outside {
    fn new(tag: &str) -> Outside {
        let n = (std::process::id() % 250) as u8;
        let name = format!("berth-test-{}-outside", std::process::id());
        let link = format!("bto{}", std::process::id());
        let host_ip = Ipv4Addr::new(198, 18, n, 1);
        let ip = Ipv4Addr::new(198, 18, n, 2);
        let _ = tag;
        let ip_cmd = |args: &[&str]| {
            let out = std::process::Command::new("ip")
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "ip {args:?}: {out:?}");
        };
        ip_cmd(&["netns", "add", &name]);
        let outside = Outside {
            name: name.clone(),
            ip,
            served: Arc::new(AtomicU32::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let ns = format!("/run/netns/{name}");
        ip_cmd(&[
            "link", "add", &link, "type", "veth", "peer", "name", "wan", "netns", &ns,
        ]);
        ip_cmd(&["addr", "add", &format!("{host_ip}/30"), "dev", &link]);
        ip_cmd(&["link", "set", &link, "up"]);
        ip_cmd(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("{ip}/30"),
            "dev",
            "wan",
        ]);
        ip_cmd(&["-n", &name, "link", "set", "wan", "up"]);
        ip_cmd(&["-n", &name, "link", "set", "lo", "up"]);
        let listener = ch05_network::netns::Netns::from_path(&ns)
            .unwrap()
            .run(|| TcpListener::bind(("0.0.0.0", 80)))
            .unwrap()
            .unwrap();
        listener.set_nonblocking(true).unwrap();
        let (served, stop) = (outside.served.clone(), outside.stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let _ = conn.set_nonblocking(false);
                        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut request = [0u8; 1024];
                        let _ = conn.read(&mut request);
                        let _ = conn.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello from outside\n");
                        served.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        outside
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The pair goes with the namespace.
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn an_internal_network_has_no_way_out() {
    let s = Setup::new();
    let outside = Outside::new(&s.tag);
    s.berth(&["network", "create", "open"]).expect_code(0);
    s.berth(&[
        "network",
        "create",
        "--internal",
        "--label",
        "tier=back",
        "vault",
    ])
    .expect_code(0);
    let vault = network(&s, "vault");
    assert_eq!(vault["Internal"], true);
    assert_eq!(vault["Labels"]["tier"], "back");
    // A container on an ordinary network reaches the outside (masquerade).
    let (code, body) = fetch_from(&s, "open", &outside.ip.to_string());
    assert_eq!((code, body.as_str()), (0, "hello from outside\n"));
    assert_eq!(outside.served.load(Ordering::SeqCst), 1);
    // On the internal one: no default route, and nothing gets out.
    let routes = s.berth(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "vault",
        &s.image,
        "ip",
        "route",
    ]);
    routes.expect_code(0);
    assert!(!routes.stdout.contains("default"), "{routes:?}");
    let (code, body) = fetch_from(&s, "vault", &outside.ip.to_string());
    assert_ne!(code, 0, "an internal container got out: {body}");
    // Even with a route of its own (a privileged container adds one).
    let gateway = vault["IPAM"]["Config"][0]["Gateway"].as_str().unwrap();
    let script = format!(
        "ip route add default via {gateway} && timeout 3 wget -q -O - http://{}/",
        outside.ip
    );
    let forced = s.berth(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "--privileged",
        "--init",
        "--network",
        "vault",
        &s.image,
        "sh",
        "-c",
        &script,
    ]);
    assert_ne!(forced.code, 0, "{forced:?}");
    assert_eq!(outside.served.load(Ordering::SeqCst), 1, "a packet got out");
    // Inside the internal network, containers still talk.
    s.run_detached(
        &["--name", "safe", "--network", "vault"],
        &strs(&web("safe")),
    );
    s.wait_status("safe", "running");
    let ip = ip_on(&s, "safe", "vault");
    answered(|| fetch_from(&s, "vault", &ip), "hello from safe");
    s.berth(&["rm", "-f", "safe"]).expect_code(0);
    s.berth(&["network", "rm", "open", "vault"]).expect_code(0);
}

#[test]
fn publish_all_and_port_agree() {
    let s = Setup::new();
    // An image that exposes 80/tcp and 9999/udp.
    let dir = s.tmp.path().join("exposing");
    let mut layout = lab::registry::Layout::create(&dir).unwrap();
    let desc = layout
        .image_config(
            &[(
                lab::registry::fixture_layer().unwrap(),
                lab::registry::Compression::Gzip,
            )],
            "amd64",
            serde_json::json!({
                "Cmd": ["/bin/sh"],
                "Env": ["PATH=/bin:/sbin:/usr/bin:/usr/sbin"],
                "ExposedPorts": {"80/tcp": {}, "9999/udp": {}},
            }),
        )
        .unwrap();
    layout.tag("web", &desc).unwrap();
    let image = format!("{}/busybox:web", s.registry.host());
    lab::registry::skopeo_push(&dir, "web", &image, false).unwrap();
    s.berth(&["pull", "--insecure-registry", &s.registry.host(), &image])
        .expect_code(0);
    let mut args = vec![
        "run", "-d", "--pull", "never", "--name", "pub", "-P", &image,
    ];
    let cmd = web("pub");
    args.extend(strs(&cmd));
    s.berth(&args).expect_code(0);
    s.wait_status("pub", "running");
    let port = s.berth(&["port", "pub"]);
    port.expect_code(0);
    let lines: Vec<&str> = port.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{port:?}");
    let tcp = lines
        .iter()
        .find(|l| l.starts_with("80/tcp -> 0.0.0.0:"))
        .unwrap();
    let udp = lines
        .iter()
        .find(|l| l.starts_with("9999/udp -> 0.0.0.0:"))
        .unwrap();
    let host_port: u16 = tcp.rsplit(':').next().unwrap().parse().unwrap();
    let udp_port: u16 = udp.rsplit(':').next().unwrap().parse().unwrap();
    assert!(host_port > 0 && udp_port > 0);
    // inspect agrees.
    assert_eq!(
        s.inspect("pub", "{{json .HostConfig.PortBindings}}"),
        format!(
            r#"{{"80/tcp":[{{"HostIp":"","HostPort":"{host_port}"}}],"9999/udp":[{{"HostIp":"","HostPort":"{udp_port}"}}]}}"#
        )
    );
    // And the port answers, on loopback.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = std::net::TcpStream::connect(("127.0.0.1", host_port)).and_then(|mut c| {
            c.set_read_timeout(Some(Duration::from_secs(2)))?;
            c.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut text = String::new();
            c.read_to_string(&mut text)?;
            Ok(text)
        });
        match got {
            Ok(text) if text.contains("hello from pub") => break,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            other => panic!("no answer on {host_port}: {other:?}"),
        }
    }
    // The same ports after a restart (chosen once, at create).
    s.berth(&["restart", "-t", "0", "pub"]).expect_code(0);
    s.wait_status("pub", "running");
    assert_eq!(s.berth(&["port", "pub"]).stdout, port.stdout);

    // A host port someone holds: refused before anything is made.
    let taken = TcpListener::bind("0.0.0.0:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    let before = s.containers();
    let refused = s.berth(&[
        "run",
        "-d",
        "--pull",
        "never",
        "--name",
        "late",
        "-p",
        &format!("{busy}:80"),
        &s.image,
    ]);
    refused.expect_code(125);
    assert_eq!(refused.stderr.lines().count(), 1, "{refused:?}");
    assert!(
        refused.stderr.contains("port is already allocated"),
        "{refused:?}"
    );
    assert_eq!(s.containers(), before);
    assert!(s.berth(&["inspect", "late"]).code != 0);
    // So is a port another container publishes.
    let twice = s.berth(&[
        "create",
        "--pull",
        "never",
        "-p",
        &format!("{host_port}:80"),
        &s.image,
    ]);
    twice.expect_code(125);
    assert_eq!(s.containers(), before);
    drop(taken);
}

#[test]
fn bad_input_is_refused_with_nothing_made() {
    let s = Setup::new();
    s.berth(&["network", "create", "app"]).expect_code(0);
    let app = network(&s, "app");
    let subnet = app["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap()
        .to_string();
    let links_before = s.host_links();
    // The same subnet again, under another name.
    let overlap = s.berth(&["network", "create", "--subnet", &subnet, "twin"]);
    overlap.expect_code(125);
    assert_eq!(overlap.stderr.lines().count(), 1, "{overlap:?}");
    assert!(
        overlap
            .stderr
            .contains(&format!("overlaps network app ({subnet})")),
        "{overlap:?}"
    );
    assert_eq!(s.berth(&["network", "inspect", "twin"]).code, 1);
    assert_eq!(s.host_links(), links_before, "a bridge was made");
    // A gateway or range outside the subnet; an unknown driver.
    for args in [
        &[
            "network",
            "create",
            "--subnet",
            "10.213.0.0/24",
            "--gateway",
            "10.214.0.1",
            "x",
        ][..],
        &[
            "network",
            "create",
            "--subnet",
            "10.213.0.0/24",
            "--ip-range",
            "10.213.1.0/25",
            "x",
        ],
        &["network", "create", "--driver", "overlay", "x"],
        &["network", "create", "--subnet", "300.0.0.0/8", "x"],
    ] {
        let out = s.berth(args);
        out.expect_code(125);
        assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    }
    assert_eq!(s.berth(&["network", "inspect", "x"]).code, 1);
    // --ip-range and --gateway inside: used.
    s.berth(&[
        "network",
        "create",
        "--subnet",
        "10.213.0.0/24",
        "--gateway",
        "10.213.0.254",
        "--ip-range",
        "10.213.0.128/28",
        "ranged",
    ])
    .expect_code(0);
    let ranged = network(&s, "ranged");
    assert_eq!(ranged["IPAM"]["Config"][0]["IPRange"], "10.213.0.128/28");
    assert_eq!(ranged["IPAM"]["Config"][0]["Gateway"], "10.213.0.254");
    s.run_detached(&["--name", "r", "--network", "ranged"], &["sleep", "1000"]);
    s.wait_status("r", "running");
    assert_eq!(ip_on(&s, "r", "ranged"), "10.213.0.129");
    assert_eq!(
        s.inspect("r", "{{.NetworkSettings.Networks.ranged.Gateway}}"),
        "10.213.0.254"
    );
    // --ip outside the subnet, an unknown network, an alias on the
    // default network: refused at create.
    let before = s.containers();
    for args in [
        &[
            "create",
            "--pull",
            "never",
            "--network",
            "ranged",
            "--ip",
            "10.9.9.9",
            &s.image,
        ][..],
        &[
            "create",
            "--pull",
            "never",
            "--network",
            "nowhere",
            &s.image,
        ],
        &[
            "create",
            "--pull",
            "never",
            "--network-alias",
            "db",
            &s.image,
        ],
    ] {
        let out = s.berth(args);
        out.expect_code(125);
        assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    }
    assert_eq!(s.containers(), before);
    // --ip: that address; a second container asking for it fails to start.
    s.run_detached(
        &[
            "--name",
            "fixed",
            "--network",
            "ranged",
            "--ip",
            "10.213.0.10",
        ],
        &["sleep", "1000"],
    );
    assert_eq!(ip_on(&s, "fixed", "ranged"), "10.213.0.10");
    let clash = s.berth(&[
        "run",
        "-d",
        "--pull",
        "never",
        "--network",
        "ranged",
        "--ip",
        "10.213.0.10",
        &s.image,
        "sleep",
        "1000",
    ]);
    clash.expect_code(125);
    assert!(
        clash.stderr.contains("already in use by container fixed"),
        "{clash:?}"
    );
}

#[test]
fn a_killed_monitor_releases_every_endpoint() {
    let s = Setup::new();
    s.berth(&["network", "create", "one"]).expect_code(0);
    s.berth(&["network", "create", "two"]).expect_code(0);
    s.run_detached(
        &["--name", "doomed", "--network", "one"],
        &["sleep", "1000"],
    );
    s.wait_status("doomed", "running");
    s.berth(&["network", "connect", "two", "doomed"])
        .expect_code(0);
    let id = inspect_raw(&s, "doomed", "{{.Id}}");
    let pid: u32 = s.inspect("doomed", "{{.State.Pid}}").parse().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let monitor: i32 = after.split(' ').nth(1).unwrap().parse().unwrap();
    for net in ["one", "two"] {
        assert!(network(&s, net)["Containers"].get(&id).is_some(), "{net}");
    }
    // The monitor is ours to kill: this test started it.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            Instant::now() < deadline,
            "the container outlived its monitor"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The next command: both endpoints gone, both networks removable.
    s.berth(&["ps", "-a"]).expect_code(0);
    for net in ["one", "two"] {
        let containers = network(&s, net)["Containers"].clone();
        assert!(
            containers.as_object().unwrap().is_empty(),
            "{net}: {containers}"
        );
    }
    assert!(veths_of(&s, &[id]).is_empty());
    s.berth(&["network", "rm", "one", "two"]).expect_code(0);
}
