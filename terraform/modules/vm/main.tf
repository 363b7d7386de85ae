# A virtual machine with a network of its own: a small VPC and subnet, a security group admitting the
# chosen ports from the chosen networks, the instance, and an optional data disk.
terraform {
  required_providers {
    pcloud = { source = "registry.cloud-portal.local/portal/pcloud" }
  }
}

locals {
  # Flavors as the catalogue sells them; each site maps them to its cloud's instance types.
  instance_types = {
    small  = "t3.small"    # 1 vCPU (burstable 2), 2 GB
    medium = "t3.medium"   # 2 vCPU, 4 GB
    large  = "t3.xlarge"   # 4 vCPU, 16 GB
    xlarge = "m5.2xlarge"  # 8 vCPU, 32 GB
  }
  # Operating system images of the local cloud; a site maps the names to its own image ids.
  images = {
    "kylin-v10"    = "ami-04681a1dbd79675a5"
    "uos-20"       = "ami-04681a1dbd79675a5"
    "centos-7"     = "ami-04681a1dbd79675a5"
    "ubuntu-22.04" = "ami-785db401"
  }
  user_data = <<-EOT
    #cloud-config
    ssh_pwauth: true
    chpasswd:
      expire: false
      list: |
        root:${var.admin_password}
  EOT
}

resource "pcloud_network" "this" {
  name       = "${var.name}-net"
  cidr_block = "10.0.0.0/24"
  tags       = var.tags

  subnet {
    name       = "${var.name}-subnet"
    cidr_block = "10.0.0.0/24"
    zone       = var.zone
  }
}

resource "pcloud_security_group" "this" {
  name        = "${var.name}-sg"
  network_id  = pcloud_network.this.id
  description = "Access to virtual machine ${var.name}"
  tags        = var.tags

  dynamic "ingress" {
    for_each = toset(var.allowed_ports)
    content {
      protocol    = "tcp"
      port        = ingress.value
      cidr_blocks = var.allowed_cidrs
    }
  }
}

resource "pcloud_instance" "this" {
  name               = var.name
  image              = local.images[var.os_image]
  instance_type      = local.instance_types[var.flavor]
  subnet_id          = pcloud_network.this.subnet_ids["${var.name}-subnet"]
  security_group_ids = [pcloud_security_group.this.id]
  user_data          = local.user_data
  tags               = var.tags
}

resource "pcloud_volume" "data" {
  count       = var.data_disk_gb > 0 ? 1 : 0
  name        = "${var.name}-data"
  zone        = pcloud_instance.this.zone
  size        = var.data_disk_gb
  instance_id = pcloud_instance.this.id
  device_name = "/dev/sdf"
  tags        = var.tags
}
