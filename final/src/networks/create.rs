//! `network create`: the options checked, then chapter 5 makes it
//! (refusing a subnet that overlaps another network or a host route).

use ch05_network::cidr::Cidr;
use ch05_network::network::CreateOptions;

use super::{CreateArgs, host};
use crate::context::Engine;
use crate::{Error, Result};

/// Creates the network; returns its id.
pub fn create(engine: &Engine, args: &CreateArgs) -> Result<String> {
    if args.driver != "bridge" {
        return Err(Error::invalid(format!(
            "network driver {:?} is not supported: berth has `bridge`",
            args.driver
        )));
    }
    let cidr = |flag: &str, text: &Option<String>| -> Result<Option<Cidr>> {
        text.as_deref()
            .map(|t| {
                t.parse::<Cidr>()
                    .map_err(|e| Error::invalid(format!("{flag}: {}", e.message)))
            })
            .transpose()
    };
    let gateway = args
        .gateway
        .as_deref()
        .map(|g| {
            g.parse().map_err(|_| {
                Error::invalid(format!("invalid --gateway {g:?}: give an IPv4 address"))
            })
        })
        .transpose()?;
    let options = CreateOptions {
        subnet: cidr("--subnet", &args.subnet)?,
        gateway,
        ip_range: cidr("--ip-range", &args.ip_range)?,
        internal: args.internal,
        labels: crate::create::parse_labels(&args.labels)?,
    };
    Ok(host(engine)?.create_network_with(&args.name, &options)?.id)
}
