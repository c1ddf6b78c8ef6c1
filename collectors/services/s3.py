"""s3 collector (to be written)."""
