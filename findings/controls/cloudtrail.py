"""cloudtrail controls (to be written)."""
