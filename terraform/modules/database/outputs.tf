output "endpoint" {
  description = "Host name clients connect to."
  value       = pcloud_database.this.address
}

output "port" {
  description = "Port clients connect to."
  value       = pcloud_database.this.port
}

output "admin_username" {
  description = "Administrator account name."
  value       = pcloud_database.this.username
}

output "connection_string" {
  description = "Connection string with the administrator password in it."
  value       = "${var.engine}://${var.admin_username}:${var.admin_password}@${pcloud_database.this.address}:${pcloud_database.this.port}"
  sensitive   = true
}
