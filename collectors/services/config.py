"""config collector (to be written)."""
