"""The simulated AWS organization behind ``make demo`` (moto server + seed)."""
