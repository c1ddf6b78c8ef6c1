"""ec2 collector (to be written)."""
