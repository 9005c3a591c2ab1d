//! Alibaba ECS (API 2014-05-26) over the neutral world:
//! AssignPrivateIpAddresses, UnassignPrivateIpAddresses and
//! DescribeNetworkInterfaces.
//!
//! The request pipeline (signatures, validation, envelope) is the shared
//! Alibaba RPC module's; this module gives ECS's words for the world's
//! outcomes (codes and messages; statuses come from the specs) and the
//! shape of its bodies (`PrivateIpSet.PrivateIpAddress[]`).

use std::net::Ipv4Addr;

use super::{describe_page, unknown_action, Node, OpCall, Product, RpcError};
use crate::dialect::DialectId;
use crate::emulator::world::{AssignRequest, Eni, EniFilter, Visibility, WorldError};

pub struct Ecs;

impl Product for Ecs {
    fn dialect(&self) -> DialectId {
        DialectId::AlibabaEcs
    }

    fn version(&self) -> &'static str {
        "2014-05-26"
    }

    fn host_id(&self) -> &'static str {
        "ecs.aliyuncs.com"
    }

    fn name(&self) -> &'static str {
        "Ecs"
    }

    fn world_error(&self, e: WorldError) -> RpcError {
        match e {
            WorldError::EniNotFound { id } => RpcError::new(
                "InvalidEniId.NotFound",
                format!("The specified EniId \"{id}\" is not found."),
            ),
            WorldError::SubnetNotFound { id } => RpcError::new(
                "InvalidVSwitchId.NotFound",
                format!("The specified VSwitchId \"{id}\" is not found."),
            ),
            WorldError::SubnetNotInNetwork { subnet, .. } => RpcError::new(
                "InvalidOperation.VpcMismatch",
                format!("The specified VSwitch \"{subnet}\" is not in the VPC of the ENI."),
            ),
            WorldError::OperationNotOffered { region, operation } => RpcError::new(
                "Forbidden.RegionId",
                format!("The operation {operation} is not supported in the region \"{region}\"."),
            ),
            WorldError::EniState { expected, actual } => RpcError::new(
                "InvalidOperation.InvalidEniState",
                format!(
                    "The operation is not allowed in the current ENI state. Expecting status is \"{expected}\" while current status is \"{actual}\"."
                ),
            ),
            WorldError::InstanceState {
                instance,
                expected,
                actual,
            } => RpcError::new(
                "InvalidOperation.InvalidEcsState",
                format!(
                    "The operation is not allowed in the current state of instance \"{instance}\". Expecting status is \"{expected}\" while current status is \"{actual}\"."
                ),
            ),
            WorldError::IpOutsideCidr { ip, cidr } | WorldError::IpReserved { ip, cidr } => {
                RpcError::new(
                    "InvalidVSwitchId.IpInvalid",
                    format!(
                        "The specified IpAddress \"{ip}\" is not valid in VSwitch CIDR block \"{cidr}\"."
                    ),
                )
            }
            WorldError::IpAlreadyAssigned { ip, .. } => RpcError::new(
                "InvalidIp.IpAssigned",
                format!("The specified IP \"{ip}\" is already assigned."),
            ),
            WorldError::QuotaExceeded {
                limit,
                current,
                requested,
            } => RpcError::new(
                "InvalidOperation.Ipv4CountExceeded",
                format!(
                    "The number of IPv4 addresses exceeds the limit: the ENI may hold {limit} secondary private IPs, holds {current}, {requested} requested."
                ),
            ),
            WorldError::SubnetExhausted { subnet, .. } => RpcError::new(
                "InvalidVSwitchId.IpNotEnough",
                format!("The specified VSwitch \"{subnet}\" has not enough IpAddress."),
            ),
            WorldError::IpNotOnEni { ip } | WorldError::PrimaryIp { ip } => RpcError::new(
                "InvalidIp.IpUnassigned",
                format!("The specified IP \"{ip}\" is not assigned on this ENI."),
            ),
            // A world whose vSwitch gives changes a delay makes them tasks;
            // the seed's code for a change that collides with another.
            WorldError::Busy { eni, .. } => RpcError::new(
                "Operation.Conflict",
                format!("The operation conflicts with another one on ENI \"{eni}\". Try again later."),
            ),
            // The spec's `unique` refuses repeats before the world sees them.
            WorldError::DuplicateIp { ip } => RpcError::new(
                "InvalidParameter",
                format!("The specified parameter \"PrivateIpAddress.N\" is not valid: {ip} is given twice."),
            ),
        }
    }

    fn not_permitted(&self, operation: &str) -> RpcError {
        RpcError::new(
            "Forbidden.SubUser",
            format!(
                "The specified RAM user is not authorized to perform {operation} on this resource."
            ),
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

fn assign(call: &OpCall<'_>) -> Result<Node, RpcError> {
    let p = call.params;
    let region = p.value("RegionId").unwrap_or_default();
    let eni_id = p.value("NetworkInterfaceId").unwrap_or_default();
    let request = AssignRequest {
        explicit: p.ipv4_list("PrivateIpAddress"),
        count: u32::try_from(p.integer("SecondaryPrivateIpAddressCount", 0)).unwrap_or(0),
        allow_reassign: false,
        subnet: None,
        visibility: Visibility::Immediate,
    };
    let scope = call.scope(&Ecs, Some(region));
    let assigned = {
        let mut world = call.state.world();
        world
            .check_offered(&scope, call.action)
            .map_err(|e| Ecs.world_error(e))?;
        world
            .assign(&scope, eni_id, &request)
            .map_err(|e| Ecs.world_error(e))?
    };
    let ips: Vec<Node> = assigned.iter().map(|ip| Node::Ip(*ip)).collect();
    Ok(Node::obj([
        ("RequestId", call.request_id.into()),
        (
            "AssignedPrivateIpAddressesSet",
            Node::obj([
                ("NetworkInterfaceId", eni_id.into()),
                (
                    "PrivateIpSet",
                    Node::obj([("PrivateIpAddress", Node::List(ips))]),
                ),
            ]),
        ),
    ]))
}

fn unassign(call: &OpCall<'_>) -> Result<Node, RpcError> {
    let p = call.params;
    let region = p.value("RegionId").unwrap_or_default();
    let eni_id = p.value("NetworkInterfaceId").unwrap_or_default();
    let ips = p.ipv4_list("PrivateIpAddress");
    let scope = call.scope(&Ecs, Some(region));
    {
        let mut world = call.state.world();
        world
            .check_offered(&scope, call.action)
            .map_err(|e| Ecs.world_error(e))?;
        world
            .unassign(&scope, eni_id, &ips, Visibility::Immediate)
            .map_err(|e| Ecs.world_error(e))?;
    }
    Ok(Node::obj([("RequestId", call.request_id.into())]))
}

fn describe(call: &OpCall<'_>) -> Result<Node, RpcError> {
    let p = call.params;
    let region = p.value("RegionId").unwrap_or_default();
    let page_number = p.integer("PageNumber", 1);
    let page_size = p.integer("PageSize", 10);
    let filter = EniFilter {
        ids: p
            .list("NetworkInterfaceId")
            .into_iter()
            .map(str::to_string)
            .collect(),
        subnet: p.value("VSwitchId").map(str::to_string),
        vpc: p.value("VpcId").map(str::to_string),
        instance: p.value("InstanceId").map(str::to_string),
        state: p.value("Status").map(str::to_string),
        eni_type: p.value("Type").map(str::to_string),
        primary_ip: p.ipv4("PrimaryIpAddress"),
        private_ips: p.ipv4_list("PrivateIpAddress"),
    };
    let scope = call.scope(&Ecs, Some(region));
    let world = call.state.world();
    world
        .check_offered(&scope, call.action)
        .map_err(|e| Ecs.world_error(e))?;
    let found = world.describe(&scope, &filter);
    Ok(describe_page(call, &found, page_number, page_size, |eni| {
        eni_json(eni)
    }))
}

fn ip_entry(ip: Ipv4Addr, primary: bool) -> Node {
    Node::obj([
        ("PrivateIpAddress", Node::Ip(ip)),
        ("Primary", primary.into()),
    ])
}

fn eni_json(eni: &Eni) -> Node {
    let mut ips = Vec::with_capacity(eni.secondary_count() + 1);
    ips.push(ip_entry(eni.primary_ip, true));
    ips.extend(eni.secondaries().map(|ip| ip_entry(ip, false)));
    Node::obj([
        ("NetworkInterfaceId", eni.id.as_str().into()),
        ("Status", eni.state.to_string().into()),
        ("Type", eni.eni_type.to_string().into()),
        ("VpcId", eni.vpc.as_str().into()),
        ("VSwitchId", eni.subnet.as_str().into()),
        ("ZoneId", eni.zone.as_str().into()),
        ("PrivateIpAddress", Node::Ip(eni.primary_ip)),
        ("MacAddress", eni.mac.as_str().into()),
        (
            "InstanceId",
            eni.instance.as_deref().unwrap_or_default().into(),
        ),
        (
            "PrivateIpSets",
            Node::obj([("PrivateIpSet", Node::List(ips))]),
        ),
    ])
}
