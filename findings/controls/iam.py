"""iam controls (to be written)."""
