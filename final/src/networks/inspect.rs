//! `network inspect`: a network as Docker's JSON shows it, with the
//! containers attached now (chapter 5's allocations are the truth).

use ch05_network::ipam;
use ch05_network::network::{Host, Network};
use ch05_network::veth::{mac_for, mac_text};
use serde_json::{Map, Value, json};

use crate::Result;

// ANCHOR: inspect
pub fn inspect(host: &Host, network: &Network) -> Result<Value> {
    let allocs = {
        let lock = host.state.lock()?;
        ipam::load(&lock, &host.state, &network.name)?
    };
    let mut containers = Map::new();
    for (ip, a) in &allocs.addresses {
        let key = if a.id.is_empty() { &a.container } else { &a.id };
        containers.insert(
            key.clone(),
            json!({
                "Name": a.container,
                "MacAddress": mac_text(mac_for(*ip)),
                "IPv4Address": network.subnet.with_addr(*ip).to_string(),
                "IPv6Address": "",
                "Aliases": a.aliases,
            }),
        );
    }
    let mut config = json!({
        "Subnet": network.subnet.subnet().to_string(),
        "Gateway": network.gateway.to_string(),
    });
    if let Some(range) = network.ip_range {
        config["IPRange"] = json!(range.to_string());
    }
    Ok(json!({
        "Name": network.name,
        "Id": network.id,
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": {}, "Config": [config]},
        "Internal": network.internal,
        "Attachable": false,
        "Ingress": false,
        "Containers": containers,
        "Options": {"com.docker.network.bridge.name": network.bridge},
        "Labels": network.labels,
    }))
}
// ANCHOR_END: inspect
