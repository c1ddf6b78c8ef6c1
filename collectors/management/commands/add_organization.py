from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.aws_errors import classify
from accounts.discovery import discover_accounts
from accounts.models import Organization
from collectors.pipeline import split_list, validate_scope


class Command(BaseCommand):
    help = (
        "Create or update an AWS organization, discover its accounts through "
        "organizations:ListAccounts, and print them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--management-account-id", required=True)
        parser.add_argument("--member-role", required=True, help="e.g. ParapetAudit")
        parser.add_argument("--external-id", required=True)
        parser.add_argument("--discovery-role-arn", default="")
        parser.add_argument(
            "--regions", default="", help="comma-separated; empty = all enabled"
        )
        parser.add_argument(
            "--services",
            default="",
            help="comma-separated collector names (iam,s3,...); empty = all",
        )
        parser.add_argument(
            "--simulated",
            action="store_true",
            help="label the organization as simulated (demo)",
        )

    def handle(self, *args, **opts):
        regions = split_list(opts["regions"])
        services = split_list(opts["services"])
        problems = validate_scope(regions, services)
        if problems:
            raise CommandError("; ".join(problems))
        org = Organization.objects.filter(name=opts["name"]).first() or Organization(
            name=opts["name"]
        )
        org.management_account_id = opts["management_account_id"]
        org.member_role_name = opts["member_role"]
        org.external_id = opts["external_id"]
        org.discovery_role_arn = opts["discovery_role_arn"]
        org.regions = regions
        org.services = services
        org.simulated = opts["simulated"] or org.simulated
        try:
            org.full_clean()
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        created = org.pk is None
        org.save()
        self.stdout.write(
            f"{'Created' if created else 'Updated'} organization {org.name} "
            f"(management account {org.management_account_id})"
        )
        try:
            result = discover_accounts(org)
        except Exception as exc:
            kind, message = classify(exc)
            raise CommandError(
                f"Account discovery failed ({kind}): {message}. The organization is "
                "saved; fix access and run this command again."
            ) from None
        self.stdout.write(f"{'ACCOUNT ID':<14}{'STATUS':<10}{'OU':<32}NAME")
        for account in sorted(result.accounts, key=lambda a: (a.ou_path, a.name)):
            self.stdout.write(
                f"{account.account_id:<14}{account.status:<10}"
                f"{account.ou_path[:30]:<32}{account.name}"
            )
        self.stdout.write(
            f"{len(result.accounts)} accounts ({len(result.created)} new)"
            + (
                f"; {len(result.missing)} previously known no longer listed"
                if result.missing
                else ""
            )
        )
