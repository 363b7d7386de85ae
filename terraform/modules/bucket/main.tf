# An object storage bucket with versioning, server-side encryption and the public-access block.
terraform {
  required_providers {
    pcloud = { source = "registry.cloud-portal.local/portal/pcloud" }
  }
}

resource "pcloud_bucket" "this" {
  name                = var.name
  versioning          = var.versioning
  encryption          = var.encryption
  block_public_access = var.block_public_access
  force_destroy       = var.force_destroy
  tags                = var.tags
}
