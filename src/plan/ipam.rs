//! Static addresses: replica k gets network address + 101 + k.

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::config::Ipam;

/// The first host offset handed out (`.101`).
pub(super) const FIRST_OFFSET: u32 = 101;

/// One instance's static address and the network around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StaticIp {
    /// The address.
    pub address: Ipv4Addr,
    /// Prefix length of the range.
    pub prefix_len: u8,
    /// Netmask of the range (`255.255.255.0`).
    pub netmask: Ipv4Addr,
    /// Default gateway.
    pub gateway: Option<Ipv4Addr>,
    /// DNS servers.
    pub dns: Vec<String>,
}

impl StaticIp {
    /// `address/prefix` (CIDR form).
    pub(crate) fn cidr(&self) -> String {
        format!("{}/{}", self.address, self.prefix_len)
    }
}

/// The address of replica `index` (0-based), or why it cannot have one.
pub(crate) fn static_ip(ipam: &Ipam, index: u32) -> Result<StaticIp, String> {
    let net = ipam.range;
    let base = u32::from(net.network());
    let addr = base
        .checked_add(FIRST_OFFSET)
        .and_then(|a| a.checked_add(index))
        .map(Ipv4Addr::from)
        .ok_or_else(|| "address overflows IPv4".to_string())?;
    if !net.contains(&addr) {
        return Err(format!(
            "address {addr} (network + {}) is outside {net}: the range is too small for this many replicas",
            FIRST_OFFSET + index
        ));
    }
    if addr == net.broadcast() {
        return Err(format!("address {addr} is the broadcast address of {net}"));
    }
    let gateway = ipam.gateway;
    if gateway == Some(addr) {
        return Err(format!("address {addr} is the gateway"));
    }
    Ok(StaticIp {
        address: addr,
        prefix_len: net.prefix_len(),
        netmask: net.netmask(),
        gateway,
        dns: ipam.dns.iter().map(|d| d.to_string()).collect(),
    })
}

/// cloud-init network-config v2 for a static address on the first ethernet NIC.
pub(super) fn network_config(ip: &StaticIp) -> String {
    let mut s =
        String::from("version: 2\nethernets:\n  primary:\n    match:\n      name: \"e*\"\n");
    s.push_str(&format!("    addresses:\n      - {}\n", ip.cidr()));
    if let Some(gw) = ip.gateway {
        s.push_str(&format!(
            "    routes:\n      - to: default\n        via: {gw}\n"
        ));
    }
    if !ip.dns.is_empty() {
        s.push_str("    nameservers:\n      addresses:\n");
        for d in &ip.dns {
            s.push_str(&format!("        - {d}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipam(range: &str, gw: Option<&str>) -> Ipam {
        Ipam {
            range: range.parse().unwrap(),
            gateway: gw.map(|g| g.parse().unwrap()),
            dns: vec!["192.168.10.1".parse().unwrap()],
        }
    }

    #[test]
    fn replicas_start_at_101() {
        let i = ipam("192.168.10.0/24", Some("192.168.10.1"));
        assert_eq!(static_ip(&i, 0).unwrap().cidr(), "192.168.10.101/24");
        assert_eq!(
            static_ip(&i, 2).unwrap().address,
            Ipv4Addr::new(192, 168, 10, 103)
        );
        assert_eq!(
            static_ip(&i, 153).unwrap().address,
            Ipv4Addr::new(192, 168, 10, 254)
        );
    }

    #[test]
    fn broadcast_overflow_and_gateway_are_errors() {
        let i = ipam("192.168.10.0/24", None);
        assert!(static_ip(&i, 154).unwrap_err().contains("broadcast"));
        assert!(static_ip(&i, 155).unwrap_err().contains("outside"));
        let small = ipam("10.0.0.0/26", None);
        assert!(static_ip(&small, 0).unwrap_err().contains("outside"));
        let gw = ipam("192.168.10.0/24", Some("192.168.10.102"));
        assert!(static_ip(&gw, 1).unwrap_err().contains("gateway"));
        assert!(static_ip(&gw, 0).is_ok());
    }

    #[test]
    fn network_config_has_address_route_and_dns() {
        let i = ipam("192.168.10.0/24", Some("192.168.10.1"));
        let nc = network_config(&static_ip(&i, 0).unwrap());
        assert!(nc.contains("- 192.168.10.101/24"));
        assert!(nc.contains("via: 192.168.10.1"));
        assert!(nc.contains("- 192.168.10.1\n"));
        let v: serde_yaml::Value = serde_yaml::from_str(&nc).unwrap();
        assert_eq!(v["version"], serde_yaml::Value::from(2));
    }
}
