"""cloudtrail collector (to be written)."""
