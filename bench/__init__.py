"""``make bench``: Parapet's performance figures, each a ratio measured in one run.

The machine it runs on is shared and noisy, so every figure compares Parapet
with a baseline measured moments apart in the same process (a raw COPY, a bare
loop, a bare page, the critical-path bound) instead of quoting absolute times.
See docs/performance.md.
"""
