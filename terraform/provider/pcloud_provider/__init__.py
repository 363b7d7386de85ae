"""The project's Terraform provider for AWS-compatible clouds (networks, instances, volumes, buckets, databases).

The provider speaks Terraform's plugin protocol 6 through the `tf` framework and calls the cloud with boto3.
Terraform installs it from a filesystem mirror that `pcloud_provider.mirror` writes. This module holds only
the provider's identity, so importing it stays cheap.
"""

HOSTNAME = "registry.cloud-portal.local"
NAMESPACE = "portal"
TYPE_NAME = "pcloud"
VERSION = "1.0.0"

# What a module writes in `required_providers { pcloud = { source = SOURCE } }`.
SOURCE = f"{HOSTNAME}/{NAMESPACE}/{TYPE_NAME}"
