# Inputs of the object storage bucket offering. The portal builds its request form and API schema from this
# file; validation messages are English sentences (Terraform requires it) and are translated by the portal.

variable "name" {
  type        = string
  description = "Bucket name, unique within the cloud. It becomes part of the bucket's address."

  validation {
    condition     = length(var.name) >= 3 && length(var.name) <= 63
    error_message = "The bucket name must be 3 to 63 characters long."
  }

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*[a-z0-9]$", var.name))
    error_message = "The bucket name may contain only lowercase letters, digits, periods and hyphens, and must begin and end with a letter or digit."
  }

  validation {
    condition     = !can(regex("^[0-9]+(\\.[0-9]+){3}$", var.name)) && !can(regex("\\.\\.", var.name))
    error_message = "The bucket name must not look like an IP address or contain two periods in a row."
  }
}

variable "versioning" {
  type        = bool
  description = "Keep every version of each object, so overwritten or deleted objects can be restored."
  default     = true
}

variable "encryption" {
  type        = string
  description = "Server-side encryption: none, AES256 (keys managed by the cloud) or aws:kms (keys in the key management service)."
  default     = "AES256"

  validation {
    condition     = contains(["none", "AES256", "aws:kms"], var.encryption)
    error_message = "The encryption must be one of none, AES256 or aws:kms."
  }
}

variable "block_public_access" {
  type        = bool
  description = "Block every form of public (anonymous) access to the bucket."
  default     = true
}

variable "force_destroy" {
  type        = bool
  description = "When the bucket is decommissioned, delete all its objects too; otherwise a bucket that still holds objects is kept."
  default     = false
}

variable "quota_gb" {
  type        = number
  description = "Storage quota in GB, the basis of the monthly charge."
  default     = 100

  validation {
    condition     = var.quota_gb >= 1 && var.quota_gb <= 10240 && floor(var.quota_gb) == var.quota_gb
    error_message = "The quota must be a whole number of GB from 1 to 10240."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags to attach to the bucket, as key-value pairs."
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
