"""config controls (to be written)."""
