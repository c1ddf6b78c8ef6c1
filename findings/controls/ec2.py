"""ec2 controls (to be written)."""
