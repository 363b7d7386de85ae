# A test module whose apply pauses between two resources, so a test can kill the worker mid-apply.
terraform {
  required_providers {
    pcloud = { source = "registry.cloud-portal.local/portal/pcloud" }
    null   = { source = "hashicorp/null" }
  }
}

resource "pcloud_bucket" "first" {
  name = var.name
}

resource "null_resource" "pause" {
  depends_on = [pcloud_bucket.first]
  provisioner "local-exec" {
    command = "sleep ${var.pause_seconds}"
  }
}

resource "pcloud_bucket" "second" {
  depends_on = [null_resource.pause]
  name       = "${var.name}-after"
}
