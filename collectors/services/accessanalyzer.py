"""IAM Access Analyzer: the analyzers of each region.

Access Analyzer is regional and CIS asks for it in every enabled region, so
each region gets one ``AWS::AccessAnalyzer::Analyzer`` record (resource id =
the region) listing its analyzers, even when there are none: that region's
finding can then FAIL, and a region that could not be collected has no fresh
finding (unknown, never a pass).

Snapshot stability: the last analysed resource and its time change
continuously and are not kept.
"""

from collections.abc import Iterator

from collectors.base import Collector, ResourceRecord, register, to_jsonable

ANALYZER = "AWS::AccessAnalyzer::Analyzer"
ANALYZER_FIELDS = ("arn", "name", "type", "status", "statusReason", "createdAt")


@register
class AccessAnalyzerCollector(Collector):
    service = "accessanalyzer"
    resource_types = (ANALYZER,)

    def collect(self) -> Iterator[ResourceRecord]:
        client = self.client("accessanalyzer")
        analyzers = [
            to_jsonable({k: a[k] for k in ANALYZER_FIELDS if k in a})
            for a in self.paginate(client, "list_analyzers", "analyzers")
        ]
        analyzers.sort(key=lambda a: a.get("arn", ""))
        yield ResourceRecord(
            resource_type=ANALYZER,
            resource_id=self.region,
            config={"analyzers": analyzers},
            name=f"IAM Access Analyzer in {self.region}",
        )
