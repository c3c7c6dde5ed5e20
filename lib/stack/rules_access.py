"""I7 / R1 / R3: who may do what on the rules table.

Item schema: lib/lambda/include/tap/app/rules_dynamodb.hpp.

The processor reads rules and advances the change heads' fences; it never writes a rule (R1). Writers (the
import command and the API function) commit changes with TransactWriteItems, whose IAM actions are the ones
of its items: their policy is a managed policy of its own, attached to each writer's role. The API function
needs nothing more on this table: it reads items by BatchGetItem and Query, and its transactions hold only
Put, Update and Delete entries (no ConditionCheck), so no GetItem or ConditionCheckItem is granted.
"""

from __future__ import annotations

from typing import Any

from lib.config import StackConfig
from lib.stack import policy
from lib.stack.bindings import Construct, IamPolicy
from lib.stack.tables import TableRef

# The partition keys of the head items: the only items the processor may update (the fence).
HEAD_KEYS = "head#*"


def processor_statements(rules: TableRef) -> list[dict[str, Any]]:
    """Cold load (parallel Scan), refresh (BatchGetItem of records and heads, Query of the change log and
    the symbol controls), and the fence's conditional UpdateItem on head items only."""
    return [
        {
            "Sid": "ReadRules",
            "Effect": "Allow",
            "Action": ["dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"],
            "Resource": rules.arn,
        },
        {
            "Sid": "AdvanceRulesFence",
            "Effect": "Allow",
            "Action": "dynamodb:UpdateItem",
            "Resource": rules.arn,
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [HEAD_KEYS]}},
        },
    ]


def writer_statements(rules: TableRef, key_arn: str) -> list[dict[str, Any]]:
    """A change's transaction (head Update, record and log Put, name Put/Delete, quota Update) and the reads
    before it (the head, a record, an owner's records)."""
    return [
        {
            "Sid": "CommitRuleChanges",
            "Effect": "Allow",
            "Action": ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": rules.arn,
        },
        {
            "Sid": "ReadRulesToPlan",
            "Effect": "Allow",
            "Action": ["dynamodb:BatchGetItem", "dynamodb:Query"],
            "Resource": rules.arn,
        },
        policy.use_key(key_arn),
    ]


class RulesWriterPolicy(Construct):
    """The writers' managed policy (`rules-writer-policy-<suffix>`), for the import and API roles."""

    def __init__(
        self, scope: Construct, construct_id: str, config: StackConfig, *, rules: TableRef, key_arn: str
    ) -> None:
        super().__init__(scope, construct_id)
        written = IamPolicy(
            self,
            "rules_writer_policy",
            name=config.name("rules-writer-policy"),
            description="Commit rule changes to the rules table (the change protocol's transaction)",
            policy=policy.document(*writer_statements(rules, key_arn)),
            tags=config.tags,
        )
        self.arn = written.arn
