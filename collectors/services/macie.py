"""Amazon Macie: whether sensitive-data discovery is on, per region.

One ``AWS::Macie::Session`` record per region (resource id = the region), so a
region where Macie was never enabled still yields a record that can FAIL.
AWS answers GetMacieSession for an account without Macie with an
AccessDeniedException that says Macie is not enabled; simulators answer with
ResourceNotFound or an empty body. All mean "not enabled". Any other denial
is unknown.
"""

from collections.abc import Iterator

from botocore.exceptions import ClientError

from accounts.aws_errors import classify, error_code
from collectors.base import ERRORS_KEY, Collector, ResourceRecord, register

SESSION = "AWS::Macie::Session"


def _macie_not_enabled(exc: ClientError) -> bool:
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "").lower()
    # AWS: AccessDenied "Macie is not enabled"; after DisableMacie some
    # endpoints answer ResourceNotFound for the session.
    return code == "ResourceNotFoundException" or (
        code == "AccessDeniedException" and "not enabled" in message
    )


@register
class MacieCollector(Collector):
    service = "macie"
    resource_types = (SESSION,)

    def collect(self) -> Iterator[ResourceRecord]:
        config: dict = {}
        try:
            response = self.client("macie2").get_macie_session()
            status = response.get("status")
            config["Status"] = status or "NOT_ENABLED"
        except ClientError as exc:
            if _macie_not_enabled(exc):
                config["Status"] = "NOT_ENABLED"
            else:
                kind, _message = classify(exc)
                config[ERRORS_KEY] = {
                    "Status": f"{kind}: GetMacieSession {error_code(exc)}"
                }
        yield ResourceRecord(
            resource_type=SESSION,
            resource_id=self.region,
            config=config,
            name=f"Macie in {self.region}",
        )
