"""Terraform for Confluent Cloud, using only the real `confluentinc/confluent` provider schema.

`confluent_kafka_cluster` takes exactly one of `basic {}`, `standard {}`, `enterprise {}` or
`dedicated { cku = N }`; elastic types may carry `max_ecku`. There is no `cku_auto_scaling` block
(the scaling guide invents one): CKU changes go through brokerscale's own scaler. Secrets are Terraform
variables marked sensitive, never literals; the provider reads CONFLUENT_CLOUD_API_KEY/SECRET.
"""

from __future__ import annotations

import json
import re

from brokerscale.errors import BadInput
from brokerscale.model.workload import SECONDS_PER_DAY, Workload
from brokerscale.plan.model import Plan
from brokerscale.plan.requirements import requirements_header

PROVIDER_VERSION = ">= 2.0.0"
_IDENT = re.compile(r"[^A-Za-z0-9_-]")


def _q(s: str) -> str:
    """An HCL string literal (JSON escaping is valid HCL; `${` and `%{` are escaped too)."""
    return json.dumps(s).replace("${", "$${").replace("%{", "%%{")


def resource_names(names: list[str]) -> list[str]:
    """Terraform identifiers for topic names: letters, digits, '_' and '-', unique, not digit-led."""
    out: list[str] = []
    used: set[str] = set()
    for name in names:
        base = _IDENT.sub("_", name)
        if not base or not (base[0].isalpha() or base[0] == "_"):
            base = "t_" + base
        ident, n = base, 2
        while ident in used:
            ident, n = f"{base}_{n}", n + 1
        used.add(ident)
        out.append(ident)
    return out


def _availability(tier: str, availability: str) -> str:
    if tier == "enterprise":  # Enterprise takes LOW / HIGH (provider docs)
        return "HIGH" if availability == "multi-zone" else "LOW"
    return "MULTI_ZONE" if availability == "multi-zone" else "SINGLE_ZONE"


def _cluster_type_block(plan: Plan, workload: Workload) -> list[str]:
    tier = plan.confluent.tier
    if tier == "dedicated":
        return ["  dedicated {", f"    cku = {plan.confluent.ckus}", "  }"]
    if workload.deploy.max_ecku is not None:
        return [f"  {tier} {{", f"    max_ecku = {workload.deploy.max_ecku}", "  }"]
    return [f"  {tier} {{}}"]


#: Tiers whose clusters can sit on a private network in the Confluent provider: Dedicated takes a
#: `network { id }` of a confluent_network; Enterprise uses an environment's private link attachment.
PRIVATE_TIERS = ("dedicated", "enterprise")
_ACCESS_BLOCK = {  # the account / subscription / project allowed to connect to the private network
    "AWS": ("aws", "account", "aws_account_id", "AWS account id (12 digits) allowed to reach the cluster"),
    "AZURE": ("azure", "subscription", "azure_subscription_id", "Azure subscription id allowed to reach the cluster"),
    "GCP": ("gcp", "project", "gcp_project_id", "GCP project id allowed to reach the cluster"),
}
_ENDPOINT_BLOCK = {  # the customer-side endpoint of an Enterprise private link attachment
    "AWS": ("aws", "vpc_endpoint_id", "aws_vpc_endpoint_id", "your AWS VPC endpoint id (vpce-...)"),
    "AZURE": ("azure", "private_endpoint_resource_id", "azure_private_endpoint_id",
              "your Azure private endpoint resource id"),
    "GCP": ("gcp", "private_service_connect_connection_id", "gcp_psc_connection_id",
            "your GCP Private Service Connect connection id"),
}


def private_networking_refusal(plan: Plan, workload: Workload) -> str | None:
    """Why the planned tier cannot be given the private network the workload requires (None: it can)."""
    if "private-networking" not in workload.requirements:
        return None
    tier = plan.confluent.tier
    if tier not in PRIVATE_TIERS:
        return (f"requirements: private-networking cannot be met by a {tier} cluster: the Confluent provider "
                "attaches a private network (PrivateLink or peering) only to dedicated clusters, or to "
                "enterprise clusters through a private link attachment; plan with a limits profile that "
                "offers no private networking on that tier (e.g. --limits confluent-2026) so the planner "
                "picks one that does, or drop the requirement")
    if tier == "enterprise" and workload.deploy.private_network == "peering":
        return ("deploy.private_network: enterprise clusters are reached by PrivateLink only, not peering; "
                "set private_network: privatelink")
    return None


def _variable(name: str, description: str) -> list[str]:
    # Sensitive too: a PHI network's account and endpoint ids stay out of plan output and logs.
    return [f'variable "{name}" {{', f"  description = {_q(description)}", "  type        = string",
            "  sensitive   = true", "}", ""]


def _network(plan: Plan, workload: Workload) -> tuple[list[str], list[str], list[str]]:
    """(resources, cluster lines, variables) for the private network the requirement implies."""
    d = workload.deploy
    name = f"{workload.name}-private"
    if plan.confluent.tier == "enterprise":
        block, field, var, desc = _ENDPOINT_BLOCK[d.cloud]
        res = [
            "# Private networking (Enterprise): a private link attachment in the environment, and the",
            "# connection from your endpoint to it. Enterprise clusters in the environment are reached only",
            "# through it.",
            'resource "confluent_private_link_attachment" "main" {',
            f"  cloud        = {_q(d.cloud)}",
            f"  region       = {_q(d.region)}",
            f"  display_name = {_q(name)}",
            "",
            "  environment {",
            "    id = confluent_environment.main.id",
            "  }",
            "}",
            "",
            'resource "confluent_private_link_attachment_connection" "main" {',
            f"  display_name = {_q(name + '-connection')}",
            "",
            "  environment {",
            "    id = confluent_environment.main.id",
            "  }",
            "",
            f"  {block} {{",
            f"    {field} = var.{var}",
            "  }",
            "",
            "  private_link_attachment {",
            "    id = confluent_private_link_attachment.main.id",
            "  }",
            "}",
            "",
        ]
        return res, [], _variable(var, desc)
    connection = "PEERING" if d.private_network == "peering" else "PRIVATELINK"
    net = [
        f"# Private networking ({connection}): the cluster gets no public endpoint.",
        'resource "confluent_network" "private" {',
        f"  display_name     = {_q(name)}",
        f"  cloud            = {_q(d.cloud)}",
        f"  region           = {_q(d.region)}",
        f"  connection_types = [{_q(connection)}]",
    ]
    variables: list[str] = []
    if connection == "PEERING":
        net.append("  cidr             = var.confluent_network_cidr")
        variables += _variable("confluent_network_cidr", "A /16 CIDR for the Confluent network that does not "
                                                         "overlap your VPC (e.g. 10.10.0.0/16)")
    net += [
        "",
        "  environment {",
        "    id = confluent_environment.main.id",
        "  }",
    ]
    if connection == "PRIVATELINK":
        net += ["", "  dns_config {", '    resolution = "PRIVATE"', "  }"]
    net += ["", "  lifecycle {", "    prevent_destroy = true", "  }", "}", ""]
    if connection == "PRIVATELINK":
        block, field, var, desc = _ACCESS_BLOCK[d.cloud]
        access = [
            "# Who may open a private endpoint to the network (the access PrivateLink needs).",
            'resource "confluent_private_link_access" "main" {',
            f"  display_name = {_q(name + '-access')}",
            "",
            f"  {block} {{",
            f"    {field} = var.{var}",
            "  }",
            "",
            "  environment {",
            "    id = confluent_environment.main.id",
            "  }",
            "",
            "  network {",
            "    id = confluent_network.private.id",
            "  }",
            "}",
            "",
        ]
        variables += _variable(var, desc)
    else:
        access = [
            "# The peering connection from your VPC to the Confluent network (the access peering needs).",
            'resource "confluent_peering" "main" {',
            f"  display_name = {_q(name + '-peering')}",
            "",
        ]
        if d.cloud == "AWS":
            access += ["  aws {", "    account         = var.aws_account_id", "    vpc             = var.aws_vpc_id",
                       "    routes          = var.aws_vpc_cidrs", f"    customer_region = {_q(d.region)}", "  }"]
            variables += _variable("aws_account_id", "AWS account id (12 digits) of the peered VPC")
            variables += _variable("aws_vpc_id", "The VPC to peer with (vpc-...)")
            variables += ['variable "aws_vpc_cidrs" {', '  description = "CIDRs of the peered VPC"',
                          "  type        = list(string)", "  sensitive   = true", "}", ""]
        elif d.cloud == "AZURE":
            access += ["  azure {", "    tenant          = var.azure_tenant_id",
                       "    vnet            = var.azure_vnet_resource_id", f"    customer_region = {_q(d.region)}",
                       "  }"]
            variables += _variable("azure_tenant_id", "Azure tenant id of the peered VNet")
            variables += _variable("azure_vnet_resource_id", "Resource id of the VNet to peer with")
        else:
            access += ["  gcp {", "    project = var.gcp_project_id", "    vpc_network = var.gcp_vpc_network", "  }"]
            variables += _variable("gcp_project_id", "GCP project of the peered VPC network")
            variables += _variable("gcp_vpc_network", "Name of the VPC network to peer with")
        access += ["", "  environment {", "    id = confluent_environment.main.id", "  }", "",
                   "  network {", "    id = confluent_network.private.id", "  }", "}", ""]
    cluster = ["", "  network {", "    id = confluent_network.private.id", "  }"]
    return net + access, cluster, variables


def _retention_ms(days: float) -> str:
    return str(round(days * SECONDS_PER_DAY * 1000))


def render_terraform(plan: Plan, workload: Workload) -> dict[str, str]:
    """File name -> content for a Terraform module that creates the planned cluster and topics.

    Raises BadInput (nothing written) when the workload needs private networking the tier cannot have.
    """
    refusal = private_networking_refusal(plan, workload)
    if refusal is not None:
        raise BadInput(refusal)
    d = workload.deploy
    c = plan.confluent
    private = "private-networking" in workload.requirements
    net_res, net_cluster, net_vars = _network(plan, workload) if private else ([], [], [])
    if private and c.tier == "enterprise":
        net_cluster = []  # reached through the environment's private link attachment
    header = [f"# {line}" for line in requirements_header(workload, "terraform")]
    main = [
        f"# Generated by `brokerscale plan` for workload {workload.name!r} (limits: {plan.limits}).",
        f"# Tier {c.tier}: {c.tier_reason}.",
        f"# CKUs {c.ckus} (binding: {c.binding_dimension}): {c.ckus_rule}.",
        *header,
        "",
        "terraform {",
        "  required_providers {",
        "    confluent = {",
        '      source  = "confluentinc/confluent"',
        f"      version = {_q(PROVIDER_VERSION)}",
        "    }",
        "  }",
        "}",
        "",
        "# Credentials come from CONFLUENT_CLOUD_API_KEY / CONFLUENT_CLOUD_API_SECRET in the environment.",
        'provider "confluent" {}',
        "",
        'resource "confluent_environment" "main" {',
        f"  display_name = {_q(d.environment)}",
        "",
        "  lifecycle {",
        "    prevent_destroy = true",
        "  }",
        "}",
        "",
        'resource "confluent_kafka_cluster" "main" {',
        f"  display_name = {_q(workload.name)}",
        f"  availability = {_q(_availability(c.tier, workload.availability))}",
        f"  cloud        = {_q(d.cloud)}",
        f"  region       = {_q(d.region)}",
        *_cluster_type_block(plan, workload),
        "",
        "  environment {",
        "    id = confluent_environment.main.id",
        "  }",
        *net_cluster,
        "",
        "  lifecycle {",
        "    prevent_destroy = true",
        "  }",
        "}",
    ]
    if net_res:
        main += ["", *net_res[:-1]] if net_res[-1] == "" else ["", *net_res]
    topics: list[str] = [
        f"# Topics of workload {workload.name!r}: partitions from the scaling guide's rule with class bounds.",
        *header,
        "",
    ]
    specs = {t.name: t for t in workload.topics}
    min_isr = min(plan.self_managed.min_insync_replicas, 2)  # Confluent Cloud allows 1 or 2
    for ident, t in zip(resource_names([t.name for t in plan.topics]), plan.topics, strict=True):
        config = {
            "cleanup.policy": "delete",
            "retention.ms": _retention_ms(t.retention_days),
            "min.insync.replicas": str(min_isr),
        }
        if specs[t.name].message_bytes > 1_000_000:
            config["max.message.bytes"] = str(specs[t.name].message_bytes + 1024)
        width = max(len(k) for k in config) + 2
        topics += [
            f'resource "confluent_kafka_topic" {_q(ident)} {{',
            "  kafka_cluster {",
            "    id = confluent_kafka_cluster.main.id",
            "  }",
            f"  topic_name       = {_q(t.name)}",
            f"  partitions_count = {t.partitions.partitions}",
            "  rest_endpoint    = confluent_kafka_cluster.main.rest_endpoint",
            "  config = {",
            *[f"    {_q(k).ljust(width)} = {_q(v)}" for k, v in config.items()],
            "  }",
            "",
            "  credentials {",
            "    key    = var.kafka_api_key",
            "    secret = var.kafka_api_secret",
            "  }",
            "}",
            "",
        ]
    variables = [
        *header,
        "# A Kafka API key owned by a service account allowed to manage topics on this cluster.",
        "# Pass them with TF_VAR_kafka_api_key / TF_VAR_kafka_api_secret; never commit them.",
        'variable "kafka_api_key" {',
        '  description = "Kafka API key for topic management"',
        "  type        = string",
        "  sensitive   = true",
        "}",
        "",
        'variable "kafka_api_secret" {',
        '  description = "Kafka API secret for topic management"',
        "  type        = string",
        "  sensitive   = true",
        "}",
        "",
        *net_vars,
    ]
    outputs = [
        *header,
        'output "cluster_id" {',
        "  value = confluent_kafka_cluster.main.id",
        "}",
        "",
        'output "bootstrap_endpoint" {',
        "  value = confluent_kafka_cluster.main.bootstrap_endpoint",
        "}",
        "",
    ]
    return {
        "main.tf": "\n".join(main) + "\n",
        "topics.tf": "\n".join(topics),
        "variables.tf": "\n".join(variables),
        "outputs.tf": "\n".join(outputs),
    }
