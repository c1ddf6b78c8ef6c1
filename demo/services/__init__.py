"""Demo seeding per service group, called by demo.seed for every account.

Each module defines ``seed(session, profile, region)`` (and optionally
``drift(session, profile, region, step)``); ``profile`` is one of "security",
"prod", "dev", "sandbox" or "management".
"""
