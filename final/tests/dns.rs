//! Name resolution through the `berth` binary: containers on a
//! user-defined network find each other by name and short id through the
//! network's resolver (`berth __resolver`, started by the first
//! container's monitor), which exits with the last container.

mod common;

use common::Setup;

/// The pid of the running resolver of network `name`, if any.
fn resolver_pid(s: &Setup, name: &str) -> Option<u32> {
    let path = s.root().join(format!("network/dns/{name}.pid"));
    ch04_overlay::owner::Owner::read(&path)
        .filter(|o| o.is_alive())
        .map(|o| o.pid)
}

/// `sh -c SCRIPT` in a new container on network `net`, removed after.
fn shell_on(s: &Setup, net: &str, script: &str) -> lab::scenario::Outcome {
    s.berth(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        net,
        &s.image,
        "sh",
        "-c",
        script,
    ])
}

#[test]
fn containers_on_a_network_find_each_other_by_name() {
    if !lab::privileged::require_root() {
        return;
    }
    let s = Setup::new();
    let app = format!("{}app", s.tag);
    let subnet = format!("10.212.{}.0/24", std::process::id() % 250);
    s.berth(&["network", "create", &app, "--subnet", &subnet])
        .expect_code(0);
    s.run_detached(
        &["--name", "web", "--network", &app, "--network-alias", "www"],
        &["httpd", "-f", "-p", "80", "-h", "/www"],
    );
    // The scenario hides ids: the raw one.
    let id = s.ids().pop().unwrap();
    let resolver = resolver_pid(&s, &app).expect("web's monitor started the resolver");
    let script = format!(
        "grep nameserver /etc/resolv.conf; nslookup {} >/dev/null && echo short-id; \
         nslookup www >/dev/null && echo alias; wget -q -O - http://web/index.html",
        &id[..12]
    );
    let client = shell_on(&s, &app, &script);
    client.expect_code(0);
    let gateway = subnet.replace(".0/24", ".1");
    assert_eq!(
        client.stdout,
        format!("nameserver {gateway}\nshort-id\nalias\nhello from berth\n"),
        "{}",
        client.render()
    );
    // Another network does not know web.
    let other = format!("{}other", s.tag);
    let subnet2 = format!("10.213.{}.0/24", std::process::id() % 250);
    s.berth(&["network", "create", &other, "--subnet", &subnet2])
        .expect_code(0);
    let stranger = shell_on(
        &s,
        &other,
        "nslookup web >/dev/null 2>&1 && echo found || echo unknown",
    );
    stranger.expect_code(0);
    assert_eq!(stranger.stdout, "unknown\n", "{}", stranger.render());
    // A container that leaves stops resolving (the resolver lives on for
    // the one that stays).
    s.run_detached(&["--name", "stays", "--network", &app], &["sleep", "1000"]);
    s.berth(&["rm", "-f", "web"]).expect_code(0);
    let after = shell_on(
        &s,
        &app,
        "nslookup stays >/dev/null && echo stays; nslookup web >/dev/null 2>&1 && echo web || echo web gone",
    );
    after.expect_code(0);
    assert_eq!(after.stdout, "stays\nweb gone\n", "{}", after.render());
    s.berth(&["rm", "-f", "stays"]).expect_code(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while ch04_overlay::owner::process_alive(resolver) {
        assert!(
            std::time::Instant::now() < deadline,
            "the resolver outlived its network's containers"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    s.berth(&["network", "rm", &app, &other]).expect_code(0);
}

/// A container on two networks resolves the names of both through its
/// first network's resolver; a container on one of them only its own.
#[test]
fn a_container_on_two_networks_resolves_names_of_both() {
    if !lab::privileged::require_root() {
        return;
    }
    let s = Setup::new();
    let front = format!("{}front", s.tag);
    let back = format!("{}back", s.tag);
    let n = std::process::id() % 250;
    for (net, subnet) in [
        (&front, format!("10.214.{n}.0/24")),
        (&back, format!("10.215.{n}.0/24")),
    ] {
        s.berth(&["network", "create", net, "--subnet", &subnet])
            .expect_code(0);
    }
    s.run_detached(&["--name", "db", "--network", &back], &["sleep", "1000"]);
    s.run_detached(&["--name", "app", "--network", &front], &["sleep", "1000"]);
    s.berth(&["network", "connect", &back, "app"])
        .expect_code(0);
    let networks = s.inspect("db", "{{json .NetworkSettings.Networks}}");
    let networks: serde_json::Value = serde_json::from_str(&networks).unwrap();
    let db_ip = networks[&back]["IPAddress"].as_str().unwrap().to_string();
    assert!(db_ip.starts_with("10.215."), "{networks}");
    let lookup = "nslookup db | grep -A1 '^Name:' | grep Address | sed 's/.*: *//'";
    let seen = s.berth(&["exec", "app", "sh", "-c", lookup]);
    seen.expect_code(0);
    assert_eq!(seen.stdout.trim(), db_ip, "{}", seen.render());
    // A container only on the front network does not see db.
    let stranger = shell_on(
        &s,
        &front,
        "nslookup db >/dev/null 2>&1 && echo found || echo unknown",
    );
    assert_eq!(stranger.stdout, "unknown\n", "{}", stranger.render());
    s.berth(&["rm", "-f", "app", "db"]).expect_code(0);
    s.berth(&["network", "rm", &front, &back]).expect_code(0);
}

/// `--dns` on a user-defined network: the container's nameserver stays
/// the network's resolver (its names still resolve), which forwards other
/// names to the `--dns` server, here one of the test's own on loopback.
#[test]
fn dns_servers_of_a_container_get_its_other_queries() {
    if !lab::privileged::require_root() {
        return;
    }
    let upstream = std::net::UdpSocket::bind("127.0.0.2:53")
        .expect("127.0.0.2:53 is taken: the test needs it for its own DNS server");
    upstream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let heard = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        // (No answer: the client gives up, the query is what counts.)
        upstream
            .recv(&mut buf)
            .map(|n| buf[..n].to_vec())
            .unwrap_or_default()
    });
    let s = Setup::new();
    let net = format!("{}dns", s.tag);
    let subnet = format!("10.216.{}.0/24", std::process::id() % 250);
    s.berth(&["network", "create", &net, "--subnet", &subnet])
        .expect_code(0);
    s.run_detached(&["--name", "web", "--network", &net], &["sleep", "1000"]);
    let client = s.berth(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        &net,
        "--dns",
        "127.0.0.2",
        &s.image,
        "sh",
        "-c",
        "grep nameserver /etc/resolv.conf; nslookup web >/dev/null && echo web; \
         nslookup -timeout=1 example.test >/dev/null 2>&1; true",
    ]);
    client.expect_code(0);
    let gateway = subnet.replace(".0/24", ".1");
    assert_eq!(
        client.stdout,
        format!("nameserver {gateway}\nweb\n"),
        "{}",
        client.render()
    );
    let query = heard.join().unwrap();
    // The query's name, as DNS spells it: a length, then the label.
    assert!(
        query.windows(8).any(|w| w == b"\x07example"),
        "the --dns server heard nothing of example.test: {query:?}"
    );
    s.berth(&["rm", "-f", "web"]).expect_code(0);
    s.berth(&["network", "rm", &net]).expect_code(0);
}
