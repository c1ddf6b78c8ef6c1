"""Demo Macie: on where the account is well run, off in dev and sandbox."""

# The simulator starts every account with Macie enabled.
MACIE_OFF = {"dev", "sandbox"}


def seed(account, profile: str, region: str) -> None:
    if profile in MACIE_OFF:
        account.client("macie2", region).disable_macie()
