"""Stack configuration: read from cdktf context or the environment, validated before any resource exists.

Kept free of cdktf imports so that it is cheap to import and test. Precedence: context, then environment,
then the production default.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_SUFFIX = "dev"
DEFAULT_REGION = "us-east-1"
FUNCTION_TIMEOUT_SECONDS = 60
# AWS guidance for an SQS event source: visibility timeout >= 6 x the function timeout, maxReceiveCount >= 5.
PRODUCTION_VISIBILITY_TIMEOUT = 6 * FUNCTION_TIMEOUT_SECONDS
PRODUCTION_MAX_RECEIVE_COUNT = 5

# Every name derived from the suffix, with the AWS limit of its resource type. The suffix bound follows.
NAME_LIMITS: dict[str, int] = {
    "data-processor": 64,  # Lambda function name
    "data-processor-role": 64,  # IAM role name
    "data-processor-policy": 128,  # IAM inline policy name
    "market-alerts": 255,  # DynamoDB table
    "alert-state": 255,
    "alert-rules": 255,
    "rules-writer-policy": 128,  # IAM managed policy name
    "market-data-queue": 80,  # SQS queue name
    "market-data-dlq": 80,
    "trading-alerts": 256,  # SNS topic name
    "ops-alarms": 256,
    "alias/market-data": 256,  # KMS alias
    "/aws/lambda/data-processor": 512,  # log group
    "data-processor-error-rate": 255,  # CloudWatch alarm names
    "market-data-dlq-not-empty": 255,
    "market-data-queue-oldest-message-age": 255,
    "data-processor-invalid-rules": 255,
    "data-processor-feed-clock-offset": 255,
    # The traders' API (I14)
    "alert-api": 64,  # Lambda function name (the HTTP API's name allows 128)
    "alert-api-role": 64,
    "alert-api-policy": 128,
    "/aws/lambda/alert-api": 512,
    "/aws/apigateway/alert-api-access": 512,  # the stage's access-log group
    "alert-api-5xx-rate": 255,
    "alert-traders": 128,  # Cognito user pool name
    "alert-api-client": 128,  # Cognito app client name
    "alert-api-authorizer": 128,  # the HTTP API's JWT authorizer
}
MAX_SUFFIX_LENGTH = min(limit - len(prefix) - 1 for prefix, limit in NAME_LIMITS.items())
SUFFIX_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
TAG_VALUE_PATTERN = re.compile(r"^[\w .:/=+\-@]{1,256}$")
# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
SUBSCRIPTION_PROTOCOLS = ("email", "email-json", "sqs", "lambda", "https", "sms", "firehose")
FILTER_KEYS = ("owner", "symbol", "severity", "rule")  # the alert's message attributes (F5)


WINDOW_SOURCES = "set REORDER_WINDOW_SECONDS or the cdktf context reorderWindowSeconds"
NOTIFY_AGE_SOURCES = "set MAX_NOTIFY_AGE_SECONDS or the cdktf context maxNotifyAgeSeconds"
SHARDS_SOURCES = "set RULES_SHARDS or the cdktf context rulesShards"
QUOTA_SOURCES = "set RULE_QUOTA or the cdktf context ruleQuota"
VISIBLE_AFTER_SOURCES = "set ALERTS_VISIBLE_AFTER_SECONDS or the cdktf context alertsVisibleAfterSeconds"

# ---- the traders' API (I14, A1) ------------------------------------------------------------------------
# The stage's default route throttling: API Gateway's account quota is 10,000 requests/s with a burst of
# 5,000 (per region); a stage may not exceed it.
DEFAULT_API_BURST = 100
DEFAULT_API_RATE = 50
MAX_API_BURST = 5000
MAX_API_RATE = 10000
# The operators' Cognito group (A1), the API function's OPERATOR_GROUP: a text setting of the table below
# (its rule and default live in config/function-settings.json).
OPERATOR_GROUP_ENV = "OPERATOR_GROUP"
# An external JWT issuer as API Gateway's JWT authorizer takes it: an https URL (its OIDC discovery base).
ISSUER_PATTERN = re.compile(r"^https://[^\s/?#]+(?:/[^\s?#]*)?$")
AUDIENCE_PATTERN = re.compile(r"^[^\s,]{1,256}$")
# ---- I4: the SQS event source mapping's batching --------------------------------------------------------
# Defaults: full batches of 25 gathered for up to 1 s (fewer invocations, the cost model's batch); the
# low-latency setting invokes with whatever has arrived, up to 10 (issue 17's tick-to-notification target).
DEFAULT_BATCH_SIZE = 25
DEFAULT_BATCHING_WINDOW_SECONDS = 1
LOW_LATENCY_BATCH_SIZE = 10
LOW_LATENCY_BATCHING_WINDOW_SECONDS = 0
# AWS's limits for a standard queue: batch 1..10,000, window 0..300 s, and a window of at least 1 s when
# the batch is above 10 (CreateEventSourceMapping refuses the rest).
MAX_BATCH_SIZE = 10_000
MAX_BATCHING_WINDOW_SECONDS = 300
WINDOWLESS_MAX_BATCH = 10
EVENT_SOURCE_SOURCES = (
    "set EVENT_SOURCE_BATCH_SIZE / EVENT_SOURCE_BATCHING_WINDOW_SECONDS or the cdktf contexts "
    "eventSourceBatchSize / eventSourceBatchingWindowSeconds"
)


def event_source_problem(batch_size: int, batching_window_s: float) -> str | None:
    """Why AWS would refuse an SQS event source mapping with this batch size and window (None: it takes
    them). The stack's settings and the local event source (local/event_source.py) both check with it."""
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        return f"batch_size must be between 1 and {MAX_BATCH_SIZE}, not {batch_size}"
    if not 0 <= batching_window_s <= MAX_BATCHING_WINDOW_SECONDS:
        return (
            f"the batching window must be within 0..{MAX_BATCHING_WINDOW_SECONDS} s, not {batching_window_s}"
        )
    if batch_size > WINDOWLESS_MAX_BATCH and batching_window_s < 1:
        return (
            f"AWS requires a batching window of at least 1 s above a batch size of {WINDOWLESS_MAX_BATCH} "
            f"(batch_size {batch_size}, window {batching_window_s} s)"
        )
    return None


JWT_SOURCES = "set JWT_ISSUER and JWT_AUDIENCE (comma-separated) or the cdktf contexts jwtIssuer/jwtAudience"


@dataclass(frozen=True)
class ApiSettings:
    """The HTTP API's configuration. No issuer: the stack creates a Cognito pool and client and accepts
    their tokens; an issuer (with its audiences): the authorizer accepts that issuer's tokens, no pool."""

    throttle_burst: int = DEFAULT_API_BURST
    throttle_rate: int = DEFAULT_API_RATE
    operator_group: str = field(default_factory=lambda: OPERATOR_GROUP.default)
    jwt_issuer: str | None = None
    jwt_audience: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.throttle_burst <= MAX_API_BURST:
            raise ConfigError(f"API burst limit must be within 0..{MAX_API_BURST} (set API_THROTTLE_BURST)")
        if not 0 <= self.throttle_rate <= MAX_API_RATE:
            raise ConfigError(f"API rate limit must be within 0..{MAX_API_RATE} /s (set API_THROTTLE_RATE)")
        if (reason := OPERATOR_GROUP.check(self.operator_group)) is not None:
            raise ConfigError(f"operator group {self.operator_group!r}: {reason} (set {OPERATOR_GROUP_ENV})")
        if (self.jwt_issuer is None) != (not self.jwt_audience):
            raise ConfigError(f"an external JWT issuer needs its audience and the reverse ({JWT_SOURCES})")
        if self.jwt_issuer is not None and not ISSUER_PATTERN.match(self.jwt_issuer):
            raise ConfigError(f"JWT issuer {self.jwt_issuer!r} must be an https:// URL ({JWT_SOURCES})")
        for audience in self.jwt_audience:
            if not AUDIENCE_PATTERN.match(audience):
                raise ConfigError(f"JWT audience {audience!r}: 1-256 characters, no space or comma")


def parse_api_settings(get: Callable[[str, str], str | None]) -> ApiSettings:
    """The API block from context/environment (`get(context key, env key)`)."""
    kwargs: dict[str, Any] = {}
    for attr, ctx_key, env_key in (
        ("throttle_burst", "apiThrottleBurst", "API_THROTTLE_BURST"),
        ("throttle_rate", "apiThrottleRate", "API_THROTTLE_RATE"),
    ):
        if (value := get(ctx_key, env_key)) is not None:
            kwargs[attr] = _int(value, env_key)
    for attr, ctx_key, env_key in (
        ("operator_group", "operatorGroup", OPERATOR_GROUP_ENV),
        ("jwt_issuer", "jwtIssuer", "JWT_ISSUER"),
    ):
        if (value := get(ctx_key, env_key)) is not None:
            kwargs[attr] = value
    if (audience := get("jwtAudience", "JWT_AUDIENCE")) is not None:
        kwargs["jwt_audience"] = tuple(a.strip() for a in audience.split(","))
    return ApiSettings(**kwargs)


class ConfigError(ValueError):
    """A configuration value that cannot be deployed, with the reason and the setting to change."""


@dataclass(frozen=True)
class EnumSetting:
    """A function setting (an environment variable of the function) and the values it may take."""

    name: str
    values: tuple[str, ...]
    default: str

    def check(self, value: str) -> str | None:
        """Why the function would refuse `value` at start-up, or None when it takes it."""
        if value in self.values:
            return None
        *rest, last = self.values
        allowed = f"{', '.join(rest)} or {last}" if rest else last
        return f"{self.name} must be {allowed}, not {value!r}"


# An integer setting's text: ASCII digits only (no sign, space, exponent or digits of another script), as the
# function reads it (IntegerSetting in lib/lambda/include/tap/app/function_settings.hpp).
INTEGER_TEXT = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class IntegerSetting:
    """A function setting whose value is an integer within [minimum, maximum] (minimum >= 0)."""

    name: str
    minimum: int
    maximum: int
    default: int

    def parse(self, value: str) -> int | None:
        """The value the function takes from `value`, or None when it refuses it."""
        if not INTEGER_TEXT.fullmatch(value):
            return None
        digits = value.lstrip("0") or "0"
        if len(digits) > len(str(self.maximum)):  # out of range, and int() refuses very long strings
            return None
        number = int(digits)
        return number if self.minimum <= number <= self.maximum else None

    def check(self, value: str) -> str | None:
        """Why the function would refuse `value` at start-up, or None when it takes it."""
        if self.parse(value) is not None:
            return None
        return f"{self.name} must be an integer from {self.minimum} to {self.maximum}, not {value!r}"


# The characters every text setting may hold; its `symbols` add to them.
TEXT_ALPHANUMERICS = frozenset(string.ascii_letters + string.digits)


@dataclass(frozen=True)
class TextSetting:
    """A function setting whose value is 1 to `max_length` ASCII letters, digits or characters of `symbols`
    (TextSetting in lib/lambda/include/tap/app/function_settings.hpp reads the same way)."""

    name: str
    max_length: int
    symbols: str
    default: str

    def check(self, value: str) -> str | None:
        """Why the function would refuse `value` at start-up, or None when it takes it."""
        if 1 <= len(value) <= self.max_length and all(
            c in TEXT_ALPHANUMERICS or c in self.symbols for c in value
        ):
            return None
        allowed = f"1 to {self.max_length} ASCII letters, digits or {self.symbols}"
        return f"{self.name} must be {allowed}, not {value!r}"


FunctionSetting = EnumSetting | IntegerSetting | TextSetting


def _integer_entry(path: Path, entry: dict[str, Any]) -> IntegerSetting:
    bounds = (entry["minimum"], entry["default"], entry["maximum"])
    if not all(type(b) is int for b in bounds) or not 0 <= bounds[0] <= bounds[1] <= bounds[2]:
        raise ConfigError(
            f"{path}: setting {entry['name']}: integers 0 <= minimum <= default <= maximum, not {bounds}"
        )
    return IntegerSetting(entry["name"], entry["minimum"], entry["maximum"], entry["default"])


def _text_entry(path: Path, entry: dict[str, Any]) -> TextSetting:
    length, symbols = entry["max_length"], entry["symbols"]
    if type(length) is not int or length < 1 or not isinstance(symbols, str):
        raise ConfigError(f"{path}: setting {entry['name']}: max_length >= 1 and a string of symbols")
    setting = TextSetting(entry["name"], length, symbols, entry["default"])
    if (reason := setting.check(setting.default)) is not None:
        raise ConfigError(f"{path}: setting {entry['name']}: default: {reason}")
    return setting


def load_function_settings(path: Path) -> dict[str, FunctionSetting]:
    """The settings table both synthesis and the function validate with (the C++ build compiles in the
    same file): a setting's allowed values are written once, in config/function-settings.json (F9)."""
    table = json.loads(path.read_text(encoding="utf-8"))
    settings: dict[str, FunctionSetting] = {}
    for entry in table["settings"]:
        if entry["kind"] == "enum":
            settings[entry["name"]] = EnumSetting(entry["name"], tuple(entry["values"]), entry["default"])
        elif entry["kind"] == "integer":
            settings[entry["name"]] = _integer_entry(path, entry)
        elif entry["kind"] == "text":
            settings[entry["name"]] = _text_entry(path, entry)
        else:
            kind = entry["kind"]
            raise ConfigError(f"{path}: setting {entry['name']}: kind {kind!r} is not enum, integer or text")
    return settings


SettingKind = TypeVar("SettingKind", EnumSetting, IntegerSetting, TextSetting)


def setting_of(settings: Mapping[str, FunctionSetting], name: str, kind: type[SettingKind]) -> SettingKind:
    """The table's setting `name`, which the code reading it expects of `kind`."""
    setting = settings[name]
    if not isinstance(setting, kind):
        raise ConfigError(f"function setting {name} is not of kind {kind.__name__}")
    return setting


FUNCTION_SETTINGS = load_function_settings(ROOT / "config" / "function-settings.json")
LOG_LEVEL = setting_of(FUNCTION_SETTINGS, "LOG_LEVEL", EnumSetting)
REORDER_WINDOW = setting_of(FUNCTION_SETTINGS, "REORDER_WINDOW_SECONDS", IntegerSetting)
MAX_NOTIFY_AGE = setting_of(FUNCTION_SETTINGS, "MAX_NOTIFY_AGE_SECONDS", IntegerSetting)
RULES_SHARDS = setting_of(FUNCTION_SETTINGS, "RULES_SHARDS", IntegerSetting)
RULE_QUOTA = setting_of(FUNCTION_SETTINGS, "RULE_QUOTA", IntegerSetting)
ALERTS_VISIBLE_AFTER = setting_of(FUNCTION_SETTINGS, "ALERTS_VISIBLE_AFTER_SECONDS", IntegerSetting)
OPERATOR_GROUP: TextSetting = setting_of(FUNCTION_SETTINGS, OPERATOR_GROUP_ENV, TextSetting)


@dataclass(frozen=True)
class Subscription:
    protocol: str
    endpoint: str
    filter_policy: dict[str, list[str]] | None = None


@dataclass(frozen=True)
class S3Backend:
    bucket: str
    key: str
    region: str
    dynamodb_table: str


@dataclass(frozen=True)
class StackConfig:
    environment_suffix: str = DEFAULT_SUFFIX
    region: str = DEFAULT_REGION
    team: str = "trading-platform"
    cost_center: str = "market-data"
    endpoint_url: str | None = None
    visibility_timeout_seconds: int = PRODUCTION_VISIBILITY_TIMEOUT
    max_receive_count: int = PRODUCTION_MAX_RECEIVE_COUNT
    oldest_message_age_alarm_seconds: int = 300
    log_retention_days: int = 365
    log_level: str = LOG_LEVEL.default
    reorder_window_seconds: int = REORDER_WINDOW.default  # W by event time (F3)
    max_notify_age_seconds: int = MAX_NOTIFY_AGE.default  # older ticks notify `delayed` (F5)
    rules_shards: int = RULES_SHARDS.default  # the rules table's change heads (docs/design.md 12.5)
    rule_quota: int = RULE_QUOTA.default  # the API's rules per owner (R1)
    alerts_visible_after_seconds: int = ALERTS_VISIBLE_AFTER.default  # D: the API lists older alerts (A2)
    batch_size: int = DEFAULT_BATCH_SIZE  # I4: the event source mapping's batch
    batching_window_seconds: int = DEFAULT_BATCHING_WINDOW_SECONDS
    subscriptions: tuple[Subscription, ...] = field(default_factory=tuple)
    backend: S3Backend | None = None
    state_path: str | None = None  # local state file (default: cdktf's, beside cdktf.json)
    zip_path: Path = ROOT / "lambda_function.zip"
    api: ApiSettings = field(default_factory=ApiSettings)  # I14

    def __post_init__(self) -> None:
        validate_suffix(self.environment_suffix)
        if not REGION_PATTERN.match(self.region):
            raise ConfigError(f"region {self.region!r} is not an AWS region name (e.g. us-east-1)")
        for name, value in (("team", self.team), ("cost center", self.cost_center)):
            if not TAG_VALUE_PATTERN.match(value):
                raise ConfigError(f"{name} tag {value!r}: 1-256 letters, digits, spaces or _.:/=+-@")
        if self.endpoint_url is not None and not re.match(
            r"^https?://[^\s/]+(?::\d+)?/?$", self.endpoint_url
        ):
            raise ConfigError(f"endpoint URL {self.endpoint_url!r} must be http(s)://host[:port]")
        if not 0 <= self.visibility_timeout_seconds <= 43200:
            raise ConfigError("visibility timeout must be within 0..43200 s (the SQS limit)")
        if not 1 <= self.max_receive_count <= 1000:
            raise ConfigError("maxReceiveCount must be within 1..1000 (the SQS limit)")
        # Shorter values make local tests finish; against real AWS they would redrive healthy messages.
        if self.endpoint_url is None and (
            self.visibility_timeout_seconds < PRODUCTION_VISIBILITY_TIMEOUT
            or self.max_receive_count < PRODUCTION_MAX_RECEIVE_COUNT
        ):
            raise ConfigError(
                f"visibility timeout < {PRODUCTION_VISIBILITY_TIMEOUT} s or maxReceiveCount < "
                f"{PRODUCTION_MAX_RECEIVE_COUNT} is only allowed with a local endpoint (AWS_ENDPOINT_URL)"
            )
        if not 60 <= self.oldest_message_age_alarm_seconds <= 1209600:
            raise ConfigError("oldest-message-age alarm bound must be within 60..1209600 s")
        if self.backend is not None and self.state_path is not None:
            raise ConfigError("TF_STATE_PATH (local state) and TF_STATE_BUCKET (S3 state) exclude each other")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ConfigError(f"log retention {self.log_retention_days} days is not a CloudWatch Logs value")
        if (problem := LOG_LEVEL.check(self.log_level)) is not None:
            raise ConfigError(f"log level: {problem} (set LOG_LEVEL or the cdktf context logLevel)")
        self._check_integer_settings()
        if (problem := event_source_problem(self.batch_size, self.batching_window_seconds)) is not None:
            raise ConfigError(f"event source: {problem} ({EVENT_SOURCE_SOURCES})")

    def _check_integer_settings(self) -> None:
        """The function's integer settings, by the table's rule (config/function-settings.json)."""
        for label, setting, value, sources in (
            ("reorder window", REORDER_WINDOW, self.reorder_window_seconds, WINDOW_SOURCES),
            ("maximum notify age", MAX_NOTIFY_AGE, self.max_notify_age_seconds, NOTIFY_AGE_SOURCES),
            ("rules shards", RULES_SHARDS, self.rules_shards, SHARDS_SOURCES),
            ("rule quota", RULE_QUOTA, self.rule_quota, QUOTA_SOURCES),
            (
                "alerts visible after",
                ALERTS_VISIBLE_AFTER,
                self.alerts_visible_after_seconds,
                VISIBLE_AFTER_SOURCES,
            ),
        ):
            if (problem := setting.check(str(value))) is not None:
                raise ConfigError(f"{label}: {problem} ({sources})")

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    def name(self, prefix: str) -> str:
        """`{prefix}-{suffix}` for one of the registered prefixes (so that the length bound holds)."""
        if prefix not in NAME_LIMITS:
            raise KeyError(f"{prefix!r} is not in NAME_LIMITS: register it with its AWS limit")
        return f"{prefix}-{self.environment_suffix}"

    @property
    def tags(self) -> dict[str, str]:
        return {"Environment": self.environment_suffix, "Team": self.team, "CostCenter": self.cost_center}


def validate_suffix(suffix: str) -> str:
    if not 1 <= len(suffix) <= MAX_SUFFIX_LENGTH or not SUFFIX_PATTERN.match(suffix):
        raise ConfigError(
            f"environment suffix {suffix!r} is invalid: use 1-{MAX_SUFFIX_LENGTH} lowercase letters, digits "
            "and hyphens, starting and ending with a letter or digit (set ENVIRONMENT_SUFFIX or the "
            "cdktf context environmentSuffix)"
        )
    return suffix


def _int(raw: str, what: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{what} must be an integer, got {raw!r}") from None


def parse_subscriptions(raw: str) -> tuple[Subscription, ...]:
    """JSON list of {"protocol", "endpoint", "filter_policy"?}; filter keys: symbol, severity, rule."""
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"SNS_SUBSCRIPTIONS is not valid JSON: {exc}") from None
    if not isinstance(items, list):
        raise ConfigError("SNS_SUBSCRIPTIONS must be a JSON list of subscriptions")
    subs = []
    for i, item in enumerate(items):
        where = f"SNS_SUBSCRIPTIONS[{i}]"
        if not isinstance(item, dict) or set(item) - {"protocol", "endpoint", "filter_policy"}:
            raise ConfigError(f"{where} must be an object with protocol, endpoint and optional filter_policy")
        protocol, endpoint = item.get("protocol"), item.get("endpoint")
        if protocol not in SUBSCRIPTION_PROTOCOLS:
            raise ConfigError(f"{where}.protocol must be one of {', '.join(SUBSCRIPTION_PROTOCOLS)}")
        if not isinstance(endpoint, str) or not endpoint:
            raise ConfigError(f"{where}.endpoint must be a non-empty string")
        policy = item.get("filter_policy")
        if policy is not None and (
            not isinstance(policy, dict)
            or not policy
            or set(policy) - set(FILTER_KEYS)
            or not all(
                isinstance(v, list) and v and all(isinstance(s, str) for s in v) for v in policy.values()
            )
        ):
            raise ConfigError(
                f"{where}.filter_policy must map some of {', '.join(FILTER_KEYS)} to non-empty string lists"
            )
        subs.append(Subscription(protocol, endpoint, policy))
    return tuple(subs)


CONTEXT_KEYS = (
    "environmentSuffix",
    "awsRegion",
    "team",
    "costCenter",
    "localEndpoint",
    "logLevel",
    "reorderWindowSeconds",
    "maxNotifyAgeSeconds",
    "rulesShards",
    "ruleQuota",
    "alertsVisibleAfterSeconds",
    "eventSourceBatchSize",
    "eventSourceBatchingWindowSeconds",
    "visibilityTimeoutSeconds",
    "maxReceiveCount",
    "oldestMessageAgeAlarmSeconds",
    "logRetentionDays",
    "lambdaZip",
    "snsSubscriptions",
    "stateBucket",
    "stateLockTable",
    "stateKey",
    "stateRegion",
    "localStatePath",
    # the traders' API
    "apiThrottleBurst",
    "apiThrottleRate",
    "operatorGroup",
    "jwtIssuer",
    "jwtAudience",
)


def from_sources(context: Mapping[str, Any], env: Mapping[str, str]) -> StackConfig:
    """Build the configuration from cdktf context (camelCase keys) and environment variables."""

    def get(ctx_key: str, env_key: str) -> str | None:
        value = context.get(ctx_key)
        if value is None:
            value = env.get(env_key) or None
        return None if value is None else str(value)

    kwargs: dict[str, Any] = {}
    for attr, ctx_key, env_key in (
        ("environment_suffix", "environmentSuffix", "ENVIRONMENT_SUFFIX"),
        ("region", "awsRegion", "AWS_REGION"),
        ("team", "team", "TEAM"),
        ("cost_center", "costCenter", "COST_CENTER"),
        ("endpoint_url", "localEndpoint", "AWS_ENDPOINT_URL"),
        ("log_level", "logLevel", "LOG_LEVEL"),
        ("state_path", "localStatePath", "TF_STATE_PATH"),
    ):
        value = get(ctx_key, env_key)
        if value is not None:
            kwargs[attr] = value
    for attr, ctx_key, env_key in (
        ("visibility_timeout_seconds", "visibilityTimeoutSeconds", "VISIBILITY_TIMEOUT_SECONDS"),
        ("max_receive_count", "maxReceiveCount", "MAX_RECEIVE_COUNT"),
        (
            "oldest_message_age_alarm_seconds",
            "oldestMessageAgeAlarmSeconds",
            "OLDEST_MESSAGE_AGE_ALARM_SECONDS",
        ),
        ("log_retention_days", "logRetentionDays", "LOG_RETENTION_DAYS"),
        ("batch_size", "eventSourceBatchSize", "EVENT_SOURCE_BATCH_SIZE"),
        (
            "batching_window_seconds",
            "eventSourceBatchingWindowSeconds",
            "EVENT_SOURCE_BATCHING_WINDOW_SECONDS",
        ),
    ):
        value = get(ctx_key, env_key)
        if value is not None:
            kwargs[attr] = _int(value, env_key)
    zip_path = get("lambdaZip", "LAMBDA_ZIP")
    if zip_path is not None:
        kwargs["zip_path"] = Path(zip_path).resolve()
    for attr, label, setting, ctx_key, sources in (
        ("reorder_window_seconds", "reorder window", REORDER_WINDOW, "reorderWindowSeconds", WINDOW_SOURCES),
        (
            "max_notify_age_seconds",
            "maximum notify age",
            MAX_NOTIFY_AGE,
            "maxNotifyAgeSeconds",
            NOTIFY_AGE_SOURCES,
        ),
        ("rules_shards", "rules shards", RULES_SHARDS, "rulesShards", SHARDS_SOURCES),
        ("rule_quota", "rule quota", RULE_QUOTA, "ruleQuota", QUOTA_SOURCES),
        (
            "alerts_visible_after_seconds",
            "alerts visible after",
            ALERTS_VISIBLE_AFTER,
            "alertsVisibleAfterSeconds",
            VISIBLE_AFTER_SOURCES,
        ),
    ):
        text = get(ctx_key, setting.name)
        if text is not None:
            # Read as the function reads it (the table's rule), not by int(): " 60" or "1e3" is refused here.
            number = setting.parse(text)
            if number is None:
                raise ConfigError(f"{label}: {setting.check(text)} ({sources})")
            kwargs[attr] = number
    kwargs["api"] = parse_api_settings(get)
    subs = get("snsSubscriptions", "SNS_SUBSCRIPTIONS")
    if subs is not None:
        kwargs["subscriptions"] = parse_subscriptions(subs)
    bucket = get("stateBucket", "TF_STATE_BUCKET")
    if bucket is not None:
        suffix = kwargs.get("environment_suffix", DEFAULT_SUFFIX)
        region = kwargs.get("region", DEFAULT_REGION)
        table = get("stateLockTable", "TF_STATE_LOCK_TABLE")
        if table is None:
            # Locking by a DynamoDB table (never use_lockfile): a shared state without a lock is refused.
            raise ConfigError(
                "TF_STATE_BUCKET needs TF_STATE_LOCK_TABLE (a DynamoDB table for state locking)"
            )
        kwargs["backend"] = S3Backend(
            bucket=bucket,
            key=get("stateKey", "TF_STATE_KEY") or f"tap/{suffix}/terraform.tfstate",
            region=get("stateRegion", "TF_STATE_REGION") or region,
            dynamodb_table=table,
        )
    return StackConfig(**kwargs)
