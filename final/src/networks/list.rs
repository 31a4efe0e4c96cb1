//! `network ls`: Docker's columns NETWORK ID, NAME, DRIVER, SCOPE; `-q`;
//! the filters `name=`, `id=`, `driver=`, `label=`.

use ch05_network::network::Network;

use super::{ListArgs, host};
use crate::context::Engine;
use crate::format::align;
use crate::{Error, Result};

/// The id as `ls` shows it: 12 hex digits (the name for a network made
/// before networks had ids).
pub fn short_id(network: &Network, no_trunc: bool) -> String {
    match network.id.as_str() {
        "" => network.name.clone(),
        id if no_trunc => id.to_string(),
        id => id[..id.len().min(12)].to_string(),
    }
}

pub fn list(engine: &Engine, args: &ListArgs) -> Result<String> {
    let mut rows = Vec::new();
    for network in host(engine)?.list_networks()? {
        if passes(&args.filters, &network)? {
            rows.push(network);
        }
    }
    if args.quiet {
        return Ok(rows
            .iter()
            .map(|n| format!("{}\n", short_id(n, args.no_trunc)))
            .collect());
    }
    let mut lines = vec![
        ["NETWORK ID", "NAME", "DRIVER", "SCOPE"]
            .map(String::from)
            .to_vec(),
    ];
    lines.extend(rows.iter().map(|n| {
        vec![
            short_id(n, args.no_trunc),
            n.name.clone(),
            "bridge".to_string(),
            "local".to_string(),
        ]
    }));
    Ok(align(&lines))
}

fn passes(filters: &[String], network: &Network) -> Result<bool> {
    for filter in filters {
        let ok = match filter.split_once('=') {
            Some(("name", v)) => network.name.contains(v),
            Some(("id", v)) => network.id.starts_with(v),
            Some(("driver", v)) => v == "bridge",
            Some(("label", v)) => match v.split_once('=') {
                Some((k, want)) => network.labels.get(k).is_some_and(|have| have == want),
                None => network.labels.contains_key(v),
            },
            _ => {
                return Err(Error::invalid(format!(
                    "invalid filter {filter:?}: use name=TEXT, id=PREFIX, driver=bridge or label=KEY[=VALUE]"
                )));
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}
