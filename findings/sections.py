"""The whitepaper section tree (to be written)."""
