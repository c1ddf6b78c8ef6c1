"""iam collector (to be written)."""
