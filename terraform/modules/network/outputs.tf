output "network_id" {
  description = "Id of the network (VPC)."
  value       = pcloud_network.this.id
}

output "subnet_ids" {
  description = "Subnet ids by subnet name."
  value       = pcloud_network.this.subnet_ids
}

output "security_group_id" {
  description = "Id of the security group holding the inbound rules."
  value       = pcloud_security_group.ingress.id
}
