output "instance_id" {
  description = "Id of the virtual machine in the cloud."
  value       = pcloud_instance.this.id
}

output "private_ip" {
  description = "Private IPv4 address of the virtual machine."
  value       = pcloud_instance.this.private_ip
}

output "zone" {
  description = "Availability zone the virtual machine runs in."
  value       = pcloud_instance.this.zone
}

output "network_id" {
  description = "Id of the virtual machine's network."
  value       = pcloud_network.this.id
}

output "data_volume_id" {
  description = "Id of the data disk, or null when there is none."
  value       = var.data_disk_gb > 0 ? pcloud_volume.data[0].id : null
}
