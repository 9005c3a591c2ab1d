//! Alibaba ENS, Edge Node Service (API 2017-11-10), over the neutral world:
//! AssignPrivateIpAddresses, UnassignPrivateIpAddresses and
//! DescribeNetworkInterfaces.
//!
//! ENS shares ECS's wire protocol (the shared Alibaba RPC module serves
//! both) but not its contract: Assign takes no address and no count and
//! hands out one address, from the ENI's vSwitch or from `VSwitchId`;
//! ENIs are found by id alone (no region parameter); every error is HTTP
//! 400 with ENS's own codes; the assign response lists a flat
//! `PrivateIpSet[]`. The documents and the choices made where they are
//! silent are in `specs/alibaba-ens/`.

use std::net::Ipv4Addr;

use super::{describe_page, unknown_action, Node, OpCall, Product, RpcError};
use crate::dialect::DialectId;
use crate::emulator::world::{AssignRequest, Eni, EniFilter, EniState, Visibility, WorldError};

pub struct Ens;

impl Product for Ens {
    fn dialect(&self) -> DialectId {
        DialectId::AlibabaEns
    }

    fn version(&self) -> &'static str {
        "2017-11-10"
    }

    fn host_id(&self) -> &'static str {
        "ens.aliyuncs.com"
    }

    fn name(&self) -> &'static str {
        "Ens"
    }

    fn world_error(&self, e: WorldError) -> RpcError {
        match e {
            WorldError::EniNotFound { id } => RpcError::new(
                "InvalidEniId.NotFound",
                format!("The specified NetworkInterfaceId {id} does not exist."),
            ),
            WorldError::SubnetNotFound { id } => RpcError::new(
                "InvalidVSwitchId.NotFound",
                format!("The specified VSwitchId {id} does not exist."),
            ),
            WorldError::SubnetNotInNetwork { subnet, vpc } => RpcError::new(
                "InvalidVSwitchId.NotBelongNetwork",
                format!("The specified VSwitch {subnet} is not bound to instance's network {vpc}."),
            ),
            WorldError::EniState { actual, .. } => RpcError::new(
                "IncorrectEniStatus",
                format!(
                    "Current eni status {} does not support this operation.",
                    status_word(actual)
                ),
            ),
            WorldError::InstanceState { instance, actual, .. } => RpcError::new(
                "IncorrectInstanceStatus",
                format!(
                    "The current status of the resource does not support this operation: instance {instance} is {actual}."
                ),
            ),
            WorldError::QuotaExceeded { limit, .. } => RpcError::new(
                "MaxEniPrivateIpsCountExceeded",
                format!("The maximum number of privateIp in a eni is exceeded: the limit is {limit}."),
            ),
            WorldError::SubnetExhausted { subnet, .. } => RpcError::new(
                "InvalidVSwitchId.IpNotEnough",
                format!("Don't have enough private IPs in this switch {subnet}."),
            ),
            WorldError::IpNotOnEni { ip }
            | WorldError::IpOutsideCidr { ip, .. }
            | WorldError::IpReserved { ip, .. } => RpcError::new(
                "InvalidPrivateIpAddress.NotFound",
                format!("The specified privateIpAddress {ip} does not exist."),
            ),
            WorldError::PrimaryIp { ip } => RpcError::new(
                "IncorrectPrivateIpAddressStatus",
                format!(
                    "The current status of the resource does not support this operation: {ip} is the primary private IP address of the ENI."
                ),
            ),
            // ENS documents no busy code: an ENI being changed is in a
            // status that does not support another change.
            WorldError::Busy { eni, .. } => RpcError::new(
                "IncorrectEniStatus",
                format!("Current eni status does not support this operation: {eni} is being changed."),
            ),
            WorldError::DuplicateIp { ip } => RpcError::new(
                "InvalidParameter.PrivateIpAddress",
                format!("The specified field PrivateIpAddress invalid: {ip} is given twice. Please check it again."),
            ),
            // ENS assigns no explicit address and offers every operation
            // in every edge region: these outcomes do not arise; should a
            // world make them arise, the documented catch-all says so.
            WorldError::IpAlreadyAssigned { ip, .. } => RpcError::new(
                "ens.interface.error",
                format!("An error occurred while calling the API: {ip} is already assigned."),
            ),
            WorldError::OperationNotOffered { region, operation } => RpcError::new(
                "ens.interface.error",
                format!("An error occurred while calling the API: {region} does not offer {operation}."),
            ),
        }
    }

    fn not_permitted(&self, operation: &str) -> RpcError {
        RpcError::new(
            "NoPermission",
            format!("Permission denied: the RAM user may not call {operation}."),
        )
    }

    fn operation(&self, call: &OpCall<'_>) -> Result<Node, RpcError> {
        match call.action {
            "AssignPrivateIpAddresses" => assign(call),
            "UnassignPrivateIpAddresses" => unassign(call),
            "DescribeNetworkInterfaces" => describe(call),
            other => Err(unknown_action(other)),
        }
    }
}

/// The ENI status as ENS writes it.
fn status_word(state: EniState) -> &'static str {
    match state {
        EniState::Available => "Available",
        EniState::Attaching => "Attaching",
        EniState::InUse => "InUse",
        EniState::Detaching => "Detaching",
        EniState::Deleting => "Deleting",
        EniState::Creating => "Creating",
    }
}

fn assign(call: &OpCall<'_>) -> Result<Node, RpcError> {
    let p = call.params;
    let eni_id = p.value("NetworkInterfaceId").unwrap_or_default();
    let request = AssignRequest {
        count: 1,
        subnet: p.value("VSwitchId").map(str::to_string),
        ..AssignRequest::default()
    };
    let assigned = call
        .state
        .world()
        .assign(&call.scope(&Ens, None), eni_id, &request)
        .map_err(|e| Ens.world_error(e))?;
    let ips: Vec<Node> = assigned.iter().map(|ip| Node::Ip(*ip)).collect();
    Ok(Node::obj([
        ("RequestId", call.request_id.into()),
        (
            "AssignedPrivateIpAddressesSet",
            Node::obj([
                ("NetworkInterfaceId", eni_id.into()),
                ("PrivateIpSet", Node::List(ips)),
            ]),
        ),
    ]))
}

fn unassign(call: &OpCall<'_>) -> Result<Node, RpcError> {
    let p = call.params;
    let eni_id = p.value("NetworkInterfaceId").unwrap_or_default();
    let ips = p.ipv4_list("PrivateIpAddress");
    call.state
        .world()
        .unassign_in_any_state(&call.scope(&Ens, None), eni_id, &ips, Visibility::Immediate)
        .map_err(|e| Ens.world_error(e))?;
    Ok(Node::obj([("RequestId", call.request_id.into())]))
}

fn describe(call: &OpCall<'_>) -> Result<Node, RpcError> {
    let p = call.params;
    let page_number = p.integer("PageNumber", 1);
    let page_size = p.integer("PageSize", 50);
    let mut ids: Vec<String> = p
        .list("NetworkInterfaceIds")
        .into_iter()
        .map(str::to_string)
        .collect();
    ids.extend(p.value("NetworkInterfaceId").map(str::to_string));
    let mut regions: Vec<&str> = p.list("EnsRegionIds");
    regions.extend(p.value("EnsRegionId"));
    let filter = EniFilter {
        ids,
        subnet: p.value("VSwitchId").map(str::to_string),
        vpc: p.value("NetworkId").map(str::to_string),
        instance: p.value("InstanceId").map(str::to_string),
        state: p.value("Status").map(str::to_string),
        eni_type: p.value("Type").map(str::to_string),
        primary_ip: p.ipv4("PrimaryIpAddress"),
        private_ips: Vec::new(),
    };
    // The emulator's ENIs have no names, security groups or IPv6
    // addresses: a filter on any of them matches no ENI.
    let unmodelled = ["NetworkInterfaceName", "SecurityGroupId"]
        .iter()
        .any(|name| p.value(name).is_some())
        || !p.list("Ipv6Address").is_empty();
    let created = call
        .state
        .started()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let world = call.state.world();
    let found: Vec<&Eni> = world
        .describe(&call.scope(&Ens, None), &filter)
        .into_iter()
        .filter(|_| !unmodelled)
        .filter(|eni| regions.is_empty() || regions.contains(&eni.region.as_str()))
        .collect();
    Ok(describe_page(call, &found, page_number, page_size, |eni| {
        eni_json(eni, &created)
    }))
}

fn ip_entry(ip: Ipv4Addr, primary: bool) -> Node {
    Node::obj([
        ("PrivateIpAddress", Node::Ip(ip)),
        ("Primary", primary.into()),
        ("PrivateIpStatus", Node::Static("Available")),
    ])
}

fn eni_json(eni: &Eni, created: &str) -> Node {
    let mut ips = Vec::with_capacity(eni.secondary_count() + 1);
    ips.push(ip_entry(eni.primary_ip, true));
    ips.extend(eni.secondaries().map(|ip| ip_entry(ip, false)));
    Node::obj([
        ("NetworkInterfaceId", eni.id.as_str().into()),
        ("NetworkInterfaceName", Node::Static("")),
        ("Description", Node::Static("")),
        ("CreationTime", created.into()),
        ("Status", Node::Static(status_word(eni.state))),
        ("Type", eni.eni_type.to_string().into()),
        ("EnsRegionId", eni.region.as_str().into()),
        ("NetworkId", eni.vpc.as_str().into()),
        ("VSwitchId", eni.subnet.as_str().into()),
        (
            "InstanceId",
            eni.instance.as_deref().unwrap_or_default().into(),
        ),
        ("MacAddress", eni.mac.as_str().into()),
        ("PrimaryIp", Node::Ip(eni.primary_ip)),
        ("PrimaryIpType", Node::Static("IPv4")),
        (
            "PrivateIpSets",
            Node::obj([("PrivateIpSet", Node::List(ips))]),
        ),
        ("Ipv6Sets", Node::obj([("Ipv6Set", Node::List(Vec::new()))])),
        (
            "SecurityGroupIds",
            Node::obj([("SecurityGroup", Node::List(Vec::new()))]),
        ),
    ])
}
