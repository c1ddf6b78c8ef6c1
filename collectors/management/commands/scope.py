from django.core.management.base import BaseCommand, CommandError

from accounts import audit
from accounts.models import Organization
from collectors.base import COLLECTORS
from collectors.pipeline import split_list, validate_scope


class Command(BaseCommand):
    help = (
        "Show or change the services and regions an organization's scans cover. "
        "Controls of services left out are shown as out of scope, not passing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, help="name")
        parser.add_argument("--services", help="comma-separated; 'all' for every one")
        parser.add_argument("--regions", help="comma-separated; 'all' for every one")

    def handle(self, *args, **opts):
        name = opts["organization"]
        try:
            org = Organization.objects.get(name=name)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization named {name!r}.") from None
        services, regions = org.services, org.regions
        if opts["services"] is not None:
            services = _value(opts["services"])
        if opts["regions"] is not None:
            regions = _value(opts["regions"])
        problems = validate_scope(regions, services)
        if problems:
            raise CommandError("; ".join(problems))
        if opts["services"] is not None or opts["regions"] is not None:
            before = audit.scope_of(org)
            org.services, org.regions = services, regions
            org.save(update_fields=["services", "regions"])
            audit.record_change(
                audit.Action.SCOPE_CHANGED,
                target=org,
                before=before,
                after=audit.scope_of(org),
                actor_label=audit.command_actor("scope"),
            )
            self.stdout.write(f"Updated the scope of {org.name}.")
        left_out = sorted(set(COLLECTORS) - set(services)) if services else []
        self.stdout.write(f"Services: {', '.join(services) or 'all'}")
        if left_out:
            self.stdout.write(f"Out of scope: {', '.join(left_out)}")
        self.stdout.write(f"Regions: {', '.join(regions) or 'all enabled'}")


def _value(raw: str) -> list[str]:
    return [] if raw.strip().lower() == "all" else sorted(set(split_list(raw)))
