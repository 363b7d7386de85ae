# Inputs of the private network offering. The portal builds its request form and API schema from this file;
# validation messages are English sentences (Terraform requires it) and are translated by the portal.

variable "name" {
  type        = string
  description = "Name of the network."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,29}[a-z0-9]$", var.name))
    error_message = "The name must be 3 to 31 lowercase letters, digits or hyphens, starting with a letter and ending with a letter or digit."
  }
}

variable "cidr_block" {
  type        = string
  description = "Private IPv4 address range of the network, such as 10.20.0.0/16, with a prefix length from /16 to /28."

  validation {
    condition     = can(regex("^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])/(1[6-9]|2[0-8])$", var.cidr_block))
    error_message = "The CIDR block must be an IPv4 network such as 10.20.0.0/16, with a prefix length from /16 to /28."
  }

  validation {
    condition     = can(regex("^(10\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.|192\\.168\\.)", var.cidr_block))
    error_message = "The CIDR block must lie in a private range: 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16."
  }
}

variable "subnets" {
  type = list(object({
    name = string
    cidr = string
    zone = string
  }))
  description = "Subnets of the network, each with a name, an IPv4 CIDR block inside the network's range and an availability zone."

  validation {
    condition     = length(var.subnets) >= 1 && length(var.subnets) <= 8
    error_message = "A network needs 1 to 8 subnets."
  }

  validation {
    condition     = alltrue([for subnet in var.subnets : can(regex("^[a-z][a-z0-9-]{0,31}$", subnet.name))])
    error_message = "Each subnet name must be 1 to 32 lowercase letters, digits or hyphens, starting with a letter."
  }

  validation {
    condition = alltrue([
      for subnet in var.subnets :
      can(regex("^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])/(1[6-9]|2[0-8])$", subnet.cidr))
    ])
    error_message = "Each subnet CIDR block must be an IPv4 network such as 10.20.1.0/24, with a prefix length from /16 to /28."
  }

  validation {
    condition     = alltrue([for subnet in var.subnets : can(regex("^[a-z]{2}-[a-z]+-[0-9][a-z]$", subnet.zone))])
    error_message = "Each subnet zone must be an availability zone name such as cn-north-1a."
  }

  # The portal cannot evaluate distinct(); Terraform enforces this one when it plans.
  validation {
    condition     = length(distinct([for subnet in var.subnets : subnet.name])) == length(var.subnets)
    error_message = "Subnet names must be unique within the network."
  }
}

variable "ingress_rules" {
  type = list(object({
    port     = number
    protocol = string
    cidr     = string
  }))
  description = "Inbound traffic admitted into the network: a port, a protocol (tcp or udp) and the source IPv4 CIDR block. Everything else is blocked."
  default     = []

  validation {
    condition     = length(var.ingress_rules) <= 50
    error_message = "At most 50 inbound rules are allowed."
  }

  validation {
    condition     = alltrue([for rule in var.ingress_rules : rule.port >= 1 && rule.port <= 65535 && floor(rule.port) == rule.port])
    error_message = "Each inbound rule's port must be a whole number from 1 to 65535."
  }

  validation {
    condition     = alltrue([for rule in var.ingress_rules : contains(["tcp", "udp"], rule.protocol)])
    error_message = "Each inbound rule's protocol must be tcp or udp."
  }

  validation {
    condition = alltrue([
      for rule in var.ingress_rules :
      can(regex("^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])/([0-9]|[12][0-9]|3[0-2])$", rule.cidr))
    ])
    error_message = "Each inbound rule's source must be an IPv4 CIDR block such as 10.0.0.0/8."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags to attach to the network, as key-value pairs."
  default     = {}

  validation {
    condition     = length(var.tags) <= 20
    error_message = "At most 20 tags are allowed."
  }

  validation {
    condition     = alltrue([for key, value in var.tags : length(key) >= 1 && length(key) <= 128 && length(value) <= 256])
    error_message = "Each tag key must be 1 to 128 characters long and each tag value at most 256 characters."
  }
}
