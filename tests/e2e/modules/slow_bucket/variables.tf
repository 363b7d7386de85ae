variable "name" {
  type        = string
  description = "Name of the first bucket; the second is named after it."
}

variable "pause_seconds" {
  type        = number
  description = "How long Terraform pauses between the two buckets."
  default     = 30
}
