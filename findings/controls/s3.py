"""s3 controls (to be written)."""
