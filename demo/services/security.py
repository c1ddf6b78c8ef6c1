"""Demo security services: KMS keys, secrets, certificates, backups, the
account's security contact.

Everything goes to the account's first region (none of these controls is
judged per region except "a backup plan selects resources", which the other
regions then fail, as they would in a real account with backups in one
region only). The account-wide data key the main seed creates (rotated in
security and management only) comes on top. Profiles:

- security: rotated keys, a retired key tagged as such, a rotated secret, an
  ECDSA certificate, a locked vault for critical backups, a backup plan and a
  security contact.
- management: a rotated key shared with the organization, a rotated secret,
  a backup plan and a security contact.
- prod: a key shared with the organization (fine) and one scheduled for
  deletion by mistake; one rotated and one static secret; a certificate that
  expires soon (not in use); an unlocked vault tagged criticality=high; a
  plan; a security contact.
- dev: a key open to every AWS account, a static secret, an RSA-1024
  certificate, an untagged vault, no plan, no contact.
- sandbox: a public key also scheduled for deletion, a static secret, an
  RSA-1024 certificate, nothing else.

The simulator cannot answer Backup's selection, recovery-point and protected
resource listings, Trusted Advisor results, Access Analyzer or SSM instance
information, so those controls show ERROR (or no finding) in the demo.
IAM federation passes everywhere: the simulator invents an IAM Identity
Center instance in every account.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

ORG_CONDITION = {"StringEquals": {"aws:PrincipalOrgID": "o-demo12345"}}
ROTATE_DAYS = 30

# (alias, shared: None | "org" | "everyone", rotate, pending deletion, retired)
KEYS: dict[str, list[tuple[str, str | None, bool, bool, bool]]] = {
    "security": [
        ("secrets", None, True, False, False),
        ("legacy-archive", None, False, True, True),
    ],
    "management": [("org-shared", "org", True, False, False)],
    "prod": [
        ("partner-exchange", "org", True, False, False),
        ("orders-v1", None, False, True, False),
    ],
    "dev": [("dev-shared", "everyone", False, False, False)],
    "sandbox": [("sandbox-open", "everyone", False, True, False)],
}
# (name, rotated)
SECRETS = {
    "security": [("security/siem-api-token", True)],
    "management": [("org/automation-token", True)],
    "prod": [("prod/orders-db", True), ("prod/payment-api-key", False)],
    "dev": [("dev/api-db", False)],
    "sandbox": [("sandbox/test-token", False)],
}
# (domain, key kind, days of validity)
CERTIFICATES = {
    "security": [("siem.security.example.com", "ec", 300)],
    "prod": [
        ("shop.example.com", "ec", 200),
        ("legacy.example.com", "ec", 20),
    ],
    "dev": [("dev.example.com", "rsa-1024", 90)],
    "sandbox": [("sandbox.example.com", "rsa-1024", 30)],
}
# (vault name, tagged criticality=high, locked)
VAULTS = {
    "security": [("critical-backups", True, True)],
    "prod": [("prod-critical", True, False)],
    "dev": [("dev-backups", False, False)],
}
PLANS = ("security", "management", "prod")
CONTACTS = {
    "security": "secops@example.com",
    "management": "cloud-security@example.com",
    "prod": "platform-oncall@example.com",
}


def seed(account: Any, profile: str, region: str) -> None:
    if region != account.regions[0]:
        return
    _keys(account, profile, region)
    _secrets(account, profile, region)
    _certificates(account, profile, region)
    _backups(account, profile, region)
    if profile in CONTACTS:
        account.client("account", region).put_alternate_contact(
            AlternateContactType="SECURITY",
            EmailAddress=CONTACTS[profile],
            Name="Security team",
            PhoneNumber="+1-555-0100",
            Title="Security operations",
        )


def _keys(account: Any, profile: str, region: str) -> None:
    kms = account.client("kms", region)
    for alias, shared, rotate, doomed, retired in KEYS.get(profile, []):
        extra: dict[str, Any] = {}
        if shared:
            extra["Policy"] = _key_policy(account.id, shared)
        tags = [{"TagKey": "purpose", "TagValue": alias}]
        if retired:
            tags.append({"TagKey": "lifecycle", "TagValue": "retired"})
        key_id = kms.create_key(Description=f"{alias} key", Tags=tags, **extra)[
            "KeyMetadata"
        ]["KeyId"]
        kms.create_alias(AliasName=f"alias/{alias}", TargetKeyId=key_id)
        if rotate:
            kms.enable_key_rotation(KeyId=key_id)
        if doomed:
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30)


def _key_policy(account_id: str, shared: str) -> str:
    share: dict[str, Any] = {
        "Sid": "Share",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["kms:Decrypt", "kms:DescribeKey"],
        "Resource": "*",
    }
    if shared == "org":
        share["Condition"] = ORG_CONDITION
    owner = {
        "Sid": "Owner",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [owner, share]})


def _secrets(account: Any, profile: str, region: str) -> None:
    secrets = account.client("secretsmanager", region)
    for name, rotated in SECRETS.get(profile, []):
        secrets.create_secret(Name=name, SecretString="demo-only-value")
        if rotated:
            # The simulator rotates without a rotation function.
            secrets.rotate_secret(
                SecretId=name, RotationRules={"AutomaticallyAfterDays": ROTATE_DAYS}
            )


def _certificates(account: Any, profile: str, region: str) -> None:
    acm = account.client("acm", region)
    for domain, kind, days in CERTIFICATES.get(profile, []):
        certificate, key = _self_signed(domain, kind, days)
        acm.import_certificate(
            Certificate=certificate,
            PrivateKey=key,
            Tags=[{"Key": "Name", "Value": domain}],
        )


def _self_signed(domain: str, kind: str, days: int) -> tuple[bytes, bytes]:
    key: Any
    if kind == "rsa-1024":
        # Deliberately weak: the demo certificate acm.certificate.strong-key fails.
        key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), pem_key


def _backups(account: Any, profile: str, region: str) -> None:
    backup = account.client("backup", region)
    vaults = VAULTS.get(profile, [])
    for name, critical, locked in vaults:
        tags = {"criticality": "high"} if critical else {}
        backup.create_backup_vault(BackupVaultName=name, BackupVaultTags=tags)
        if locked:
            backup.put_backup_vault_lock_configuration(
                BackupVaultName=name, MinRetentionDays=35, ChangeableForDays=3
            )
    if profile in PLANS:
        if not vaults:
            backup.create_backup_vault(BackupVaultName="Default")
        target = vaults[0][0] if vaults else "Default"
        backup.create_backup_plan(
            BackupPlan={
                "BackupPlanName": f"{profile}-daily",
                "Rules": [
                    {
                        "RuleName": "daily-35-days",
                        "TargetBackupVaultName": target,
                        "ScheduleExpression": "cron(0 5 * * ? *)",
                        "Lifecycle": {"DeleteAfterDays": 35},
                    }
                ],
            }
        )
