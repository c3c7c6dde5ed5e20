"""The account and partition the stack deploys into (data sources), and the ARNs built from them."""

from __future__ import annotations

from lib.stack.bindings import Construct, DataAwsCallerIdentity, DataAwsPartition


class Account(Construct):
    def __init__(self, scope: Construct, construct_id: str, region: str) -> None:
        super().__init__(scope, construct_id)
        self.account_id = DataAwsCallerIdentity(self, "current").account_id
        self.region = region
        self._partition = DataAwsPartition(self, "partition").partition

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        """The ARN of `resource` of this account; IAM's are global (no region)."""
        region = self.region if regional else ""
        return f"arn:{self._partition}:{service}:{region}:{self.account_id}:{resource}"
