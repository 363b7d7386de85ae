output "bucket_name" {
  description = "Name of the bucket."
  value       = pcloud_bucket.this.name
}

output "bucket_id" {
  description = "Id of the bucket in the cloud."
  value       = pcloud_bucket.this.id
}
