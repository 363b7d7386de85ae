# Inputs of the managed database offering. The portal builds its request form and API schema from this file;
# validation messages are English sentences (Terraform requires it) and are translated by the portal.

variable "identifier" {
  type        = string
  description = "Identifier of the database instance, also the first part of its host name."

  validation {
    condition     = length(var.identifier) >= 1 && length(var.identifier) <= 63
    error_message = "The identifier must be 1 to 63 characters long."
  }

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.identifier))
    error_message = "The identifier must start with a lowercase letter and contain only lowercase letters, digits and single hyphens, not ending with a hyphen."
  }
}

variable "engine" {
  type        = string
  description = "Database engine."

  validation {
    condition     = contains(["mysql", "postgres", "mariadb"], var.engine)
    error_message = "The engine must be one of mysql, postgres or mariadb."
  }
}

variable "engine_version" {
  type        = string
  description = "Engine version, such as 8.0 for MySQL or 15.4 for PostgreSQL. Leave empty for the cloud's default version."
  default     = null

  validation {
    condition     = var.engine_version == null || can(regex("^[0-9]+(\\.[0-9]+){0,2}$", var.engine_version))
    error_message = "The engine version must be numbers separated by periods, such as 8.0 or 15.4."
  }
}

variable "instance_class" {
  type        = string
  description = "Instance class: db.t3.small (2 vCPU, 2 GB), db.t3.medium (2 vCPU, 4 GB), db.m5.large (2 vCPU, 8 GB) or db.m5.xlarge (4 vCPU, 16 GB)."
  default     = "db.t3.medium"

  validation {
    condition     = contains(["db.t3.small", "db.t3.medium", "db.m5.large", "db.m5.xlarge"], var.instance_class)
    error_message = "The instance class must be one of db.t3.small, db.t3.medium, db.m5.large or db.m5.xlarge."
  }
}

variable "storage_gb" {
  type        = number
  description = "Allocated storage in GB. Storage can grow later but never shrink."
  default     = 100

  validation {
    condition     = var.storage_gb >= 20 && var.storage_gb <= 4096 && floor(var.storage_gb) == var.storage_gb
    error_message = "The storage must be a whole number of GB from 20 to 4096."
  }
}

variable "admin_username" {
  type        = string
  description = "User name of the database administrator."
  default     = "dbadmin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,15}$", var.admin_username))
    error_message = "The administrator user name must be 1 to 16 lowercase letters, digits or underscores, starting with a letter."
  }

  validation {
    condition     = !contains(["admin", "root", "postgres", "mysql", "rdsadmin"], var.admin_username)
    error_message = "The administrator user name must not be a reserved name: admin, root, postgres, mysql or rdsadmin."
  }
}

variable "admin_password" {
  type        = string
  description = "Password of the database administrator."
  sensitive   = true

  validation {
    condition     = length(var.admin_password) >= 12 && length(var.admin_password) <= 64
    error_message = "The administrator password must be 12 to 64 characters long."
  }

  validation {
    condition = (
      can(regex("[A-Z]", var.admin_password)) && can(regex("[a-z]", var.admin_password))
      && can(regex("[0-9]", var.admin_password)) && can(regex("[^A-Za-z0-9]", var.admin_password))
    )
    error_message = "The administrator password must contain an uppercase letter, a lowercase letter, a digit and a symbol."
  }

  validation {
    condition     = !can(regex("[/\"@ ]", var.admin_password))
    error_message = "The administrator password must not contain slashes, double quotes, at signs or spaces."
  }
}

variable "backup_retention_days" {
  type        = number
  description = "Days to keep automatic backups; 0 turns automatic backups off."
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 0 && var.backup_retention_days <= 35 && floor(var.backup_retention_days) == var.backup_retention_days
    error_message = "The backup retention must be a whole number of days from 0 to 35."
  }
}

variable "multi_az" {
  type        = bool
  description = "Keep a standby replica in a second availability zone that takes over if the primary fails."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags to attach to the database, as key-value pairs."
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
