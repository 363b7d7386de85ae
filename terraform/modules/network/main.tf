# An isolated network: a VPC with its subnets, and a security group admitting only the listed traffic.
terraform {
  required_providers {
    pcloud = { source = "registry.cloud-portal.local/portal/pcloud" }
  }
}

resource "pcloud_network" "this" {
  name       = var.name
  cidr_block = var.cidr_block
  tags       = var.tags

  dynamic "subnet" {
    for_each = { for subnet in var.subnets : subnet.name => subnet }
    content {
      name       = subnet.value.name
      cidr_block = subnet.value.cidr
      zone       = subnet.value.zone
    }
  }
}

resource "pcloud_security_group" "ingress" {
  name        = "${var.name}-ingress"
  network_id  = pcloud_network.this.id
  description = "Inbound traffic admitted into network ${var.name}"
  tags        = var.tags

  dynamic "ingress" {
    for_each = var.ingress_rules
    content {
      protocol    = ingress.value.protocol
      port        = ingress.value.port
      cidr_blocks = [ingress.value.cidr]
    }
  }
}
