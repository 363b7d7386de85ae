# Inputs of the virtual machine offering. The portal builds its request form and API schema from this file;
# validation messages are English sentences (Terraform requires it) and are translated by the portal.

variable "name" {
  type        = string
  description = "Name of the virtual machine, also used as its host name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,29}[a-z0-9]$", var.name))
    error_message = "The name must be 3 to 31 lowercase letters, digits or hyphens, starting with a letter and ending with a letter or digit."
  }
}

variable "flavor" {
  type        = string
  description = "Size of the virtual machine: small (1 vCPU, 2 GB), medium (2 vCPU, 4 GB), large (4 vCPU, 16 GB) or xlarge (8 vCPU, 32 GB)."
  default     = "small"

  validation {
    condition     = contains(["small", "medium", "large", "xlarge"], var.flavor)
    error_message = "The flavor must be one of small, medium, large or xlarge."
  }
}

variable "os_image" {
  type        = string
  description = "Operating system image."
  default     = "kylin-v10"

  validation {
    condition     = contains(["kylin-v10", "uos-20", "centos-7", "ubuntu-22.04"], var.os_image)
    error_message = "The operating system image must be one of kylin-v10, uos-20, centos-7 or ubuntu-22.04."
  }
}

variable "zone" {
  type        = string
  description = "Availability zone to place the virtual machine in, such as cn-north-1a."
  default     = "cn-north-1a"

  validation {
    condition     = can(regex("^[a-z]{2}-[a-z]+-[0-9][a-z]$", var.zone))
    error_message = "The zone must be an availability zone name such as cn-north-1a."
  }
}

variable "system_disk_gb" {
  type        = number
  description = "Size of the system disk in GB."
  default     = 40

  validation {
    condition     = var.system_disk_gb >= 40 && var.system_disk_gb <= 500 && floor(var.system_disk_gb) == var.system_disk_gb
    error_message = "The system disk must be a whole number of GB from 40 to 500."
  }
}

variable "data_disk_gb" {
  type        = number
  description = "Size of the data disk in GB; 0 means no data disk."
  default     = 0

  validation {
    condition     = var.data_disk_gb >= 0 && var.data_disk_gb <= 4096 && floor(var.data_disk_gb) == var.data_disk_gb
    error_message = "The data disk must be a whole number of GB from 0 to 4096."
  }
}

variable "admin_password" {
  type        = string
  description = "Password of the administrator account."
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
}

variable "allowed_ports" {
  type        = list(number)
  description = "TCP ports opened to the allowed networks."
  default     = [22]

  validation {
    condition     = length(var.allowed_ports) <= 20
    error_message = "At most 20 ports may be opened."
  }

  validation {
    condition     = alltrue([for port in var.allowed_ports : port >= 1 && port <= 65535 && floor(port) == port])
    error_message = "Each port must be a whole number from 1 to 65535."
  }
}

variable "allowed_cidrs" {
  type        = list(string)
  description = "Networks (IPv4 CIDR blocks) allowed to reach the opened ports."
  default     = ["10.0.0.0/8"]

  validation {
    condition     = length(var.allowed_cidrs) >= 1 && length(var.allowed_cidrs) <= 10
    error_message = "Give 1 to 10 allowed networks."
  }

  validation {
    condition = alltrue([
      for cidr in var.allowed_cidrs :
      can(regex("^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])/([0-9]|[12][0-9]|3[0-2])$", cidr))
    ])
    error_message = "Each allowed network must be an IPv4 CIDR block such as 10.0.0.0/8."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags to attach to the virtual machine, as key-value pairs."
  default     = {}

  validation {
    condition     = length(var.tags) <= 20
    error_message = "At most 20 tags are allowed."
  }

  validation {
    condition     = alltrue([for key, value in var.tags : length(key) >= 1 && length(key) <= 128 && length(value) <= 256])
    error_message = "Each tag key must be 1 to 128 characters long and each tag value at most 256 characters."
  }

  validation {
    condition     = alltrue([for key, value in var.tags : key != "Name"])
    error_message = "The tag key Name is reserved: the virtual machine's name is set from the name input."
  }
}
