# A managed relational database instance (MySQL, PostgreSQL or MariaDB).
terraform {
  required_providers {
    pcloud = { source = "registry.cloud-portal.local/portal/pcloud" }
  }
}

resource "pcloud_database" "this" {
  identifier        = var.identifier
  engine            = var.engine
  engine_version    = var.engine_version
  instance_class    = var.instance_class
  allocated_storage = var.storage_gb
  username          = var.admin_username
  password          = var.admin_password
  backup_retention  = var.backup_retention_days
  multi_az          = var.multi_az
  tags              = var.tags
}
