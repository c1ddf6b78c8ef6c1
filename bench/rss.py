"""Resident memory of this process from /proc (Linux): now, and peak since a reset."""

from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(key: str) -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{key} not in {STATUS}")


def current() -> int:
    """VmRSS in bytes."""
    return _status_kb("VmRSS") * 1024


def peak() -> int:
    """VmHWM (peak RSS since start or the last ``reset_peak``) in bytes."""
    return _status_kb("VmHWM") * 1024


def reset_peak() -> None:
    """Make VmHWM start again from the current RSS (Linux 4.0+)."""
    CLEAR_REFS.write_text("5")


class PeakGrowth:
    """Peak RSS growth over a block: ``with PeakGrowth() as g: ...; g.bytes``."""

    def __enter__(self) -> "PeakGrowth":
        reset_peak()
        self.start = current()
        self.bytes = 0
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.bytes = max(0, peak() - self.start)
