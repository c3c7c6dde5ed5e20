"""Configuration and the function-settings table (no cdktf import: fast).

Validity of a rules document and agreement with the function are tested in tests/contract/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib.config import (
    CONTEXT_KEYS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_BATCHING_WINDOW_SECONDS,
    EVENT_SOURCE_SOURCES,
    FUNCTION_SETTINGS,
    LOG_LEVEL,
    LOW_LATENCY_BATCH_SIZE,
    LOW_LATENCY_BATCHING_WINDOW_SECONDS,
    MAX_NOTIFY_AGE,
    MAX_SUFFIX_LENGTH,
    NAME_LIMITS,
    OPERATOR_GROUP,
    REORDER_WINDOW,
    ROOT,
    RULES_SHARDS,
    ConfigError,
    EnumSetting,
    IntegerSetting,
    S3Backend,
    StackConfig,
    Subscription,
    TextSetting,
    event_source_problem,
    from_sources,
    load_function_settings,
    parse_subscriptions,
    setting_of,
)


def test_defaults_are_production_values() -> None:
    c = from_sources({}, {})
    assert c == StackConfig()
    assert (c.environment_suffix, c.region) == ("dev", "us-east-1")
    assert (c.visibility_timeout_seconds, c.max_receive_count) == (360, 5)
    assert c.endpoint_url is None
    assert not c.is_local
    assert c.backend is None
    assert c.subscriptions == ()
    assert c.tags == {"Environment": "dev", "Team": "trading-platform", "CostCenter": "market-data"}


@pytest.mark.parametrize("suffix", ["a", "dev", "pr-42", "x" * MAX_SUFFIX_LENGTH, "0a-b9"])
def test_valid_suffixes(suffix: str) -> None:
    assert StackConfig(environment_suffix=suffix).environment_suffix == suffix


@pytest.mark.parametrize(
    "suffix", ["", "Dev", "pr_42", "-dev", "dev-", "dév", "a b", "x" * (MAX_SUFFIX_LENGTH + 1)]
)
def test_invalid_suffixes_are_refused_clearly(suffix: str) -> None:
    with pytest.raises(
        ConfigError, match=rf"environment suffix .* is invalid: use 1-{MAX_SUFFIX_LENGTH} lowercase"
    ):
        StackConfig(environment_suffix=suffix)


def test_an_invalid_suffix_says_where_to_set_it() -> None:
    with pytest.raises(ConfigError) as refused:
        StackConfig(environment_suffix="Dev")
    assert str(refused.value) == (
        f"environment suffix 'Dev' is invalid: use 1-{MAX_SUFFIX_LENGTH} lowercase letters, digits and "
        "hyphens, starting and ending with a letter or digit (set ENVIRONMENT_SUFFIX or the cdktf context "
        "environmentSuffix)"
    )


def test_longest_suffix_fits_every_aws_name_limit() -> None:
    c = StackConfig(environment_suffix="x" * MAX_SUFFIX_LENGTH)
    assert 64 - len("data-processor-role") - 1 == MAX_SUFFIX_LENGTH
    for prefix, limit in NAME_LIMITS.items():
        assert len(c.name(prefix)) <= limit, prefix
    with pytest.raises(KeyError, match="register it"):
        c.name("unregistered")


def test_context_wins_over_environment() -> None:
    c = from_sources(
        {"environmentSuffix": "ctx", "maxReceiveCount": 7}, {"ENVIRONMENT_SUFFIX": "env", "TEAM": "desk"}
    )
    assert (c.environment_suffix, c.team, c.max_receive_count) == ("ctx", "desk", 7)


def test_environment_settings(tmp_path: Path) -> None:
    c = from_sources(
        {},
        {
            "AWS_REGION": "eu-west-2",
            "COST_CENTER": "cc-1234",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            "VISIBILITY_TIMEOUT_SECONDS": "20",
            "MAX_RECEIVE_COUNT": "2",
            "OLDEST_MESSAGE_AGE_ALARM_SECONDS": "120",
            "LOG_RETENTION_DAYS": "7",
            "LOG_LEVEL": "DEBUG",
            "LAMBDA_ZIP": str(tmp_path / "f.zip"),
            "RULES_SHARDS": "4",
            "TF_STATE_PATH": "terraform.tfstate",
            "SNS_SUBSCRIPTIONS": '[{"protocol": "email", "endpoint": "a@example.com"}]',
        },
    )
    assert (c.region, c.cost_center) == ("eu-west-2", "cc-1234")
    assert c.is_local
    assert c.endpoint_url == "http://127.0.0.1:4566"
    assert (c.visibility_timeout_seconds, c.max_receive_count, c.oldest_message_age_alarm_seconds) == (
        20,
        2,
        120,
    )
    assert (c.log_retention_days, c.log_level, c.state_path) == (7, "DEBUG", "terraform.tfstate")
    assert (c.zip_path, c.rules_shards) == (tmp_path / "f.zip", 4)
    assert c.subscriptions == (Subscription("email", "a@example.com"),)


# Each setting with its cdktf context key (lib/app.py passes CONTEXT_KEYS), its environment variable, a raw
# value and the value the configuration holds for it.
SETTING_SOURCES = [
    ("environment_suffix", "environmentSuffix", "ENVIRONMENT_SUFFIX", "qa", "qa"),
    ("region", "awsRegion", "AWS_REGION", "eu-west-2", "eu-west-2"),
    ("team", "team", "TEAM", "desk", "desk"),
    ("cost_center", "costCenter", "COST_CENTER", "cc-1", "cc-1"),
    ("endpoint_url", "localEndpoint", "AWS_ENDPOINT_URL", "http://h:1", "http://h:1"),
    ("log_level", "logLevel", "LOG_LEVEL", "WARN", "WARN"),
    ("reorder_window_seconds", "reorderWindowSeconds", "REORDER_WINDOW_SECONDS", "120", 120),
    ("max_notify_age_seconds", "maxNotifyAgeSeconds", "MAX_NOTIFY_AGE_SECONDS", "300", 300),
    ("rules_shards", "rulesShards", "RULES_SHARDS", "8", 8),
    ("rule_quota", "ruleQuota", "RULE_QUOTA", "50", 50),
    ("alerts_visible_after_seconds", "alertsVisibleAfterSeconds", "ALERTS_VISIBLE_AFTER_SECONDS", "20", 20),
    ("state_path", "localStatePath", "TF_STATE_PATH", "s.tfstate", "s.tfstate"),
    ("visibility_timeout_seconds", "visibilityTimeoutSeconds", "VISIBILITY_TIMEOUT_SECONDS", "400", 400),
    ("max_receive_count", "maxReceiveCount", "MAX_RECEIVE_COUNT", "6", 6),
    (
        "oldest_message_age_alarm_seconds",
        "oldestMessageAgeAlarmSeconds",
        "OLDEST_MESSAGE_AGE_ALARM_SECONDS",
        "90",
        90,
    ),
    ("log_retention_days", "logRetentionDays", "LOG_RETENTION_DAYS", "30", 30),
    ("batch_size", "eventSourceBatchSize", "EVENT_SOURCE_BATCH_SIZE", "10", 10),
    (
        "batching_window_seconds",
        "eventSourceBatchingWindowSeconds",
        "EVENT_SOURCE_BATCHING_WINDOW_SECONDS",
        "5",
        5,
    ),
    ("zip_path", "lambdaZip", "LAMBDA_ZIP", str(ROOT / "f.zip"), ROOT / "f.zip"),
    (
        "subscriptions",
        "snsSubscriptions",
        "SNS_SUBSCRIPTIONS",
        '[{"protocol": "sqs", "endpoint": "arn:q"}]',
        (Subscription("sqs", "arn:q"),),
    ),
]


@pytest.mark.parametrize("source", ["context", "environment"])
@pytest.mark.parametrize(("attr", "ctx_key", "env_key", "raw", "expected"), SETTING_SOURCES)
def test_every_setting_is_read_from_its_context_key_and_its_environment_variable(
    source: str, attr: str, ctx_key: str, env_key: str, raw: str, expected: object
) -> None:
    assert ctx_key in CONTEXT_KEYS
    c = from_sources({ctx_key: raw}, {}) if source == "context" else from_sources({}, {env_key: raw})
    assert getattr(c, attr) == expected
    assert getattr(c, attr) != getattr(StackConfig(), attr)


def test_s3_backend_settings_are_read_from_context() -> None:
    c = from_sources(
        {"stateBucket": "b", "stateLockTable": "l", "stateKey": "k", "stateRegion": "eu-west-1"}, {}
    )
    assert c.backend == S3Backend("b", "k", "eu-west-1", "l")
    assert {"stateBucket", "stateLockTable", "stateKey", "stateRegion"} <= set(CONTEXT_KEYS)


def test_s3_backend_defaults_to_a_key_per_suffix_in_the_stack_region() -> None:
    c = from_sources({}, {"TF_STATE_BUCKET": "b", "TF_STATE_LOCK_TABLE": "l"})
    assert c.backend == S3Backend("b", "tap/dev/terraform.tfstate", "us-east-1", "l")
    c = from_sources({}, {"TF_STATE_BUCKET": "b", "TF_STATE_LOCK_TABLE": "l", "AWS_REGION": "eu-west-2"})
    assert c.backend == S3Backend("b", "tap/dev/terraform.tfstate", "eu-west-2", "l")


def test_s3_backend_needs_a_lock_table() -> None:
    with pytest.raises(ConfigError, match="TF_STATE_LOCK_TABLE"):
        from_sources({}, {"TF_STATE_BUCKET": "b"})
    c = from_sources({"environmentSuffix": "prod"}, {"TF_STATE_BUCKET": "b", "TF_STATE_LOCK_TABLE": "locks"})
    assert c.backend == S3Backend("b", "tap/prod/terraform.tfstate", "us-east-1", "locks")
    c = from_sources(
        {},
        {
            "TF_STATE_BUCKET": "b",
            "TF_STATE_LOCK_TABLE": "l",
            "TF_STATE_KEY": "k",
            "TF_STATE_REGION": "eu-west-1",
        },
    )
    assert c.backend == S3Backend("b", "k", "eu-west-1", "l")
    with pytest.raises(ConfigError, match="exclude each other"):
        from_sources({}, {"TF_STATE_BUCKET": "b", "TF_STATE_LOCK_TABLE": "l", "TF_STATE_PATH": "x"})


def test_state_setting_messages_name_the_variables_to_change() -> None:
    with pytest.raises(ConfigError) as refused:
        from_sources({}, {"TF_STATE_BUCKET": "b"})
    assert (
        str(refused.value) == "TF_STATE_BUCKET needs TF_STATE_LOCK_TABLE (a DynamoDB table for state locking)"
    )
    with pytest.raises(ConfigError) as refused:
        from_sources({}, {"TF_STATE_BUCKET": "b", "TF_STATE_LOCK_TABLE": "l", "TF_STATE_PATH": "x"})
    assert (
        str(refused.value) == "TF_STATE_PATH (local state) and TF_STATE_BUCKET (S3 state) exclude each other"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"region": "mars"}, "not an AWS region"),
        ({"team": ""}, "team tag"),
        ({"cost_center": "a;b"}, "cost center tag"),
        ({"endpoint_url": "ftp://x"}, "endpoint URL"),
        ({"visibility_timeout_seconds": 43201, "endpoint_url": "http://h:1"}, "visibility timeout must be"),
        ({"max_receive_count": 0, "endpoint_url": "http://h:1"}, "maxReceiveCount must be"),
        ({"visibility_timeout_seconds": 359}, "only allowed with a local endpoint"),
        ({"max_receive_count": 4}, "only allowed with a local endpoint"),
        ({"oldest_message_age_alarm_seconds": 59}, "oldest-message-age"),
        ({"log_retention_days": 2}, "not a CloudWatch Logs value"),
        ({"log_level": "LOUD"}, "log level: LOG_LEVEL must be DEBUG, INFO, WARN or ERROR, not 'LOUD'"),
        ({"reorder_window_seconds": 0}, "REORDER_WINDOW_SECONDS must be an integer from 1 to 3600, not '0'"),
    ],
)
def test_invalid_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        StackConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("setting", "lowest", "highest"),
    [
        ("visibility_timeout_seconds", 0, 43200),
        ("max_receive_count", 1, 1000),
        ("oldest_message_age_alarm_seconds", 60, 1209600),
    ],
)
def test_integer_limits_are_inclusive(setting: str, lowest: int, highest: int) -> None:
    local = {"endpoint_url": "http://h:1"}
    for value in (lowest, highest):
        assert getattr(StackConfig(**{setting: value}, **local), setting) == value  # type: ignore[arg-type]
    for value in (lowest - 1, highest + 1):
        with pytest.raises(ConfigError, match=r"must be within \d+\.\.\d+ s?"):
            StackConfig(**{setting: value}, **local)  # type: ignore[arg-type]


def test_queue_limit_messages_name_the_range_and_its_source() -> None:
    local = {"endpoint_url": "http://h:1"}
    for kwargs, message in (
        ({"visibility_timeout_seconds": -1}, "visibility timeout must be within 0..43200 s (the SQS limit)"),
        ({"max_receive_count": 1001}, "maxReceiveCount must be within 1..1000 (the SQS limit)"),
        (
            {"oldest_message_age_alarm_seconds": 1209601},
            "oldest-message-age alarm bound must be within 60..1209600 s",
        ),
    ):
        with pytest.raises(ConfigError) as refused:
            StackConfig(**kwargs, **local)  # type: ignore[arg-type]
        assert str(refused.value) == message


def test_integer_settings_must_be_integers() -> None:
    with pytest.raises(ConfigError, match="MAX_RECEIVE_COUNT must be an integer, got 'five'"):
        from_sources({}, {"MAX_RECEIVE_COUNT": "five"})


def test_subscriptions_with_filter_policy() -> None:
    subs = parse_subscriptions(
        json.dumps(
            [
                {
                    "protocol": "sqs",
                    "endpoint": "arn:q",
                    "filter_policy": {"severity": ["critical"], "rule": ["r1"], "owner": ["t-1"]},
                }
            ]
        )
    )
    # The platform's own subscription routes by owner (I5).
    assert subs == (
        Subscription("sqs", "arn:q", {"severity": ["critical"], "rule": ["r1"], "owner": ["t-1"]}),
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{", "not valid JSON"),
        ('{"protocol": "email"}', "must be a JSON list"),
        ('["x"]', r"SNS_SUBSCRIPTIONS\[0\] must be an object"),
        ('[{"protocol": "email", "endpoint": "a", "extra": 1}]', "must be an object"),
        ('[{"protocol": "carrier-pigeon", "endpoint": "a"}]', "protocol must be one of"),
        ('[{"protocol": "email", "endpoint": ""}]', "endpoint must be a non-empty string"),
        (
            '[{"protocol": "email", "endpoint": "a", "filter_policy": {"price": ["1"]}}]',
            "filter_policy must map",
        ),
        (
            '[{"protocol": "email", "endpoint": "a", "filter_policy": {"symbol": []}}]',
            "filter_policy must map",
        ),
        ('[{"protocol": "email", "endpoint": "a", "filter_policy": {}}]', "filter_policy must map"),
        (
            '[{"protocol": "email", "endpoint": "a", "filter_policy": {"symbol": [1]}}]',
            "filter_policy must map",
        ),
    ],
)
def test_invalid_subscriptions(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_subscriptions(raw)


def test_subscription_messages_list_what_is_allowed() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_subscriptions("{}")
    assert str(refused.value) == "SNS_SUBSCRIPTIONS must be a JSON list of subscriptions"
    with pytest.raises(ConfigError) as refused:
        parse_subscriptions('[{"protocol": "fax", "endpoint": "a"}]')
    assert str(refused.value) == (
        "SNS_SUBSCRIPTIONS[0].protocol must be one of email, email-json, sqs, lambda, https, sms, firehose"
    )
    with pytest.raises(ConfigError) as refused:
        parse_subscriptions('[{"protocol": "sqs", "endpoint": "a", "filter_policy": {"price": ["1"]}}]')
    assert str(refused.value) == (
        "SNS_SUBSCRIPTIONS[0].filter_policy must map some of owner, symbol, severity, rule "
        "to non-empty string lists"
    )


# ---- the function-settings table (config/function-settings.json, compiled into the function too)
def test_trace_is_not_a_log_level_of_the_function() -> None:
    """Synthesis once took TRACE, which the function refuses at start-up: a green deploy, every cold start
    failing. The allowed values now come from the table the function is built with."""
    with pytest.raises(ConfigError, match="not 'TRACE'"):
        StackConfig(log_level="TRACE")
    with pytest.raises(ConfigError, match="set LOG_LEVEL"):
        from_sources({}, {"LOG_LEVEL": "TRACE"})


def test_log_level_comes_from_the_table() -> None:
    assert LOG_LEVEL is FUNCTION_SETTINGS["LOG_LEVEL"]
    assert LOG_LEVEL.values == ("DEBUG", "INFO", "WARN", "ERROR")
    assert StackConfig().log_level == LOG_LEVEL.default == "INFO"
    assert [StackConfig(log_level=v).log_level for v in LOG_LEVEL.values] == list(LOG_LEVEL.values)


def test_settings_table_kinds_and_messages(tmp_path: Path) -> None:
    table = tmp_path / "settings.json"
    entry = {"name": "MODE", "kind": "enum", "values": ["ON"], "default": "ON"}
    table.write_text(json.dumps({"settings": [entry]}))
    mode = load_function_settings(table)["MODE"]
    assert (mode.check("ON"), mode.check("on")) == (None, "MODE must be ON, not 'on'")
    table.write_text(json.dumps({"settings": [{**entry, "values": ["ON", "OFF"], "default": "OFF"}]}))
    assert load_function_settings(table)["MODE"] == EnumSetting("MODE", ("ON", "OFF"), "OFF")
    table.write_text(json.dumps({"settings": [{**entry, "kind": "pattern"}]}))
    with pytest.raises(ConfigError, match="setting MODE: kind 'pattern' is not enum"):
        load_function_settings(table)


# ---- the reorder window W (F3: configurable, default 60 s), the table's first integer setting
def test_reorder_window_comes_from_the_table() -> None:
    assert REORDER_WINDOW is FUNCTION_SETTINGS["REORDER_WINDOW_SECONDS"]
    assert (REORDER_WINDOW.minimum, REORDER_WINDOW.default, REORDER_WINDOW.maximum) == (1, 60, 3600)
    assert StackConfig().reorder_window_seconds == 60
    for seconds in (1, 3600):
        assert StackConfig(reorder_window_seconds=seconds).reorder_window_seconds == seconds
    for seconds in (0, 3601, -60):
        with pytest.raises(ConfigError, match="set REORDER_WINDOW_SECONDS or the cdktf context"):
            StackConfig(reorder_window_seconds=seconds)


def test_max_notify_age_comes_from_the_table() -> None:
    """F5: a notification of a tick older than this is `delayed`; default 60 s, at most a day."""
    assert MAX_NOTIFY_AGE is FUNCTION_SETTINGS["MAX_NOTIFY_AGE_SECONDS"]
    assert (MAX_NOTIFY_AGE.minimum, MAX_NOTIFY_AGE.default, MAX_NOTIFY_AGE.maximum) == (1, 60, 86400)
    assert StackConfig().max_notify_age_seconds == 60
    assert StackConfig(max_notify_age_seconds=86400).max_notify_age_seconds == 86400
    with pytest.raises(ConfigError, match=r"maximum notify age: .*set MAX_NOTIFY_AGE_SECONDS or the cdktf"):
        StackConfig(max_notify_age_seconds=0)
    with pytest.raises(ConfigError) as refused:
        from_sources({"maxNotifyAgeSeconds": "1e3"}, {})
    assert str(refused.value) == (
        "maximum notify age: MAX_NOTIFY_AGE_SECONDS must be an integer from 1 to 86400, not '1e3' "
        "(set MAX_NOTIFY_AGE_SECONDS or the cdktf context maxNotifyAgeSeconds)"
    )


def test_rules_shards_come_from_the_table() -> None:
    """One shard count for the function, tap_rules and the API (docs/design.md 12.5): the table's setting."""
    assert RULES_SHARDS is FUNCTION_SETTINGS["RULES_SHARDS"]
    assert (RULES_SHARDS.minimum, RULES_SHARDS.default, RULES_SHARDS.maximum) == (1, 1, 1024)
    assert StackConfig().rules_shards == 1
    assert StackConfig(rules_shards=1024).rules_shards == 1024
    with pytest.raises(ConfigError) as refused:
        from_sources({}, {"RULES_SHARDS": "0"})
    assert str(refused.value) == (
        "rules shards: RULES_SHARDS must be an integer from 1 to 1024, not '0' "
        "(set RULES_SHARDS or the cdktf context rulesShards)"
    )


@pytest.mark.parametrize(
    ("variable", "label", "sources"),
    [
        ("RULE_QUOTA", "rule quota", "(set RULE_QUOTA or the cdktf context ruleQuota)"),
        (
            "ALERTS_VISIBLE_AFTER_SECONDS",
            "alerts visible after",
            "(set ALERTS_VISIBLE_AFTER_SECONDS or the cdktf context alertsVisibleAfterSeconds)",
        ),
    ],
)
def test_the_apis_settings_are_refused_outside_the_table(variable: str, label: str, sources: str) -> None:
    """R1's quota and A2's D: the API function's settings, by the table's rule, refused naming the setting."""
    setting = FUNCTION_SETTINGS[variable]
    assert isinstance(setting, IntegerSetting)
    with pytest.raises(ConfigError) as refused:
        from_sources({}, {variable: "0"})
    assert str(refused.value) == f"{label}: {setting.check('0')} {sources}"
    too_many = setting.maximum + 1
    make = {
        "RULE_QUOTA": lambda: StackConfig(rule_quota=too_many),
        "ALERTS_VISIBLE_AFTER_SECONDS": lambda: StackConfig(alerts_visible_after_seconds=too_many),
    }[variable]
    with pytest.raises(ConfigError, match=f"^{label}: "):
        make()


HOSTILE_WINDOWS = ["-1", "1e3", "999999999999999999999", " 60", "60 ", "60\n", "+60", "60.0", "0x3c", "0"]


@pytest.mark.parametrize("raw", HOSTILE_WINDOWS)
def test_hostile_reorder_windows_are_refused_naming_the_setting(raw: str) -> None:
    """Read by the function's rule (digits only, within the bounds), not by int(), which takes " 60"."""
    for context, env in (({"reorderWindowSeconds": raw}, {}), ({}, {"REORDER_WINDOW_SECONDS": raw})):
        with pytest.raises(ConfigError) as refused:
            from_sources(context, env)
        assert str(refused.value) == (
            f"reorder window: REORDER_WINDOW_SECONDS must be an integer from 1 to 3600, not {raw!r} "
            "(set REORDER_WINDOW_SECONDS or the cdktf context reorderWindowSeconds)"
        )


def test_an_empty_reorder_window() -> None:
    """An empty context value is a value (refused); an empty environment variable is unset, as for every
    setting read from the environment."""
    with pytest.raises(ConfigError, match="not ''"):
        from_sources({"reorderWindowSeconds": ""}, {})
    assert from_sources({}, {"REORDER_WINDOW_SECONDS": ""}).reorder_window_seconds == 60


def test_integer_setting_text() -> None:
    window = IntegerSetting("W", 1, 3600, 60)
    assert [window.parse(v) for v in ("1", "0060", "3600", "0" * 5000 + "7")] == [1, 60, 3600, 7]
    # digits of other scripts, and more digits than int() takes, are refused without an exception
    assert [window.parse(v) for v in ("\u0666\u0660", "\uff16\uff10", "9" * 5000, "", "3601")] == [None] * 5
    assert window.check("7") is None
    assert window.check("x") == "W must be an integer from 1 to 3600, not 'x'"


def test_settings_table_integers(tmp_path: Path) -> None:
    table = tmp_path / "settings.json"
    entry = {"name": "N", "kind": "integer", "minimum": 0, "maximum": 9, "default": 9}
    table.write_text(json.dumps({"settings": [entry]}))
    assert load_function_settings(table)["N"] == IntegerSetting("N", 0, 9, 9)
    for bad in (
        {"default": 10},
        {"minimum": -1},
        {"minimum": 5, "default": 4},
        {"default": True},
        {"maximum": 9.0},
    ):
        table.write_text(json.dumps({"settings": [{**entry, **bad}]}))
        with pytest.raises(ConfigError, match="setting N: integers 0 <= minimum <= default <= maximum"):
            load_function_settings(table)


def test_the_operator_group_comes_from_the_table() -> None:
    """A1's group: the table's text setting, its default the stack's and the API function's."""
    assert OPERATOR_GROUP is FUNCTION_SETTINGS["OPERATOR_GROUP"]
    assert (OPERATOR_GROUP.max_length, OPERATOR_GROUP.symbols, OPERATOR_GROUP.default) == (
        128,
        "_.:@+=-",
        "operators",
    )
    assert StackConfig().api.operator_group == "operators"
    assert from_sources({}, {"OPERATOR_GROUP": "desk-ops@2"}).api.operator_group == "desk-ops@2"
    with pytest.raises(ConfigError) as refused:
        from_sources({"operatorGroup": "ops team"}, {})
    assert (
        str(refused.value)
        == f"operator group 'ops team': {OPERATOR_GROUP.check('ops team')} (set OPERATOR_GROUP)"
    )


def test_text_setting_text() -> None:
    group = TextSetting("G", 3, "_-", "abc")
    assert [group.check(v) for v in ("a", "a_-", "Z9z")] == [None] * 3
    assert group.check("abcd") == "G must be 1 to 3 ASCII letters, digits or _-, not 'abcd'"
    # empty, another symbol, a space, a letter of another script, a NUL
    assert all(group.check(v) is not None for v in ("", "a.b", "a b", "\u00e9", "a\x00"))


def test_settings_table_texts(tmp_path: Path) -> None:
    table = tmp_path / "settings.json"
    entry = {"name": "G", "kind": "text", "max_length": 8, "symbols": "-", "default": "ops-1"}
    table.write_text(json.dumps({"settings": [entry]}))
    assert load_function_settings(table)["G"] == TextSetting("G", 8, "-", "ops-1")
    for bad in ({"max_length": 0}, {"max_length": 8.0}, {"max_length": True}, {"symbols": ["-"]}):
        table.write_text(json.dumps({"settings": [{**entry, **bad}]}))
        with pytest.raises(ConfigError, match="setting G: max_length >= 1 and a string of symbols"):
            load_function_settings(table)
    for default in ("", "ops 1", "operators"):
        table.write_text(json.dumps({"settings": [{**entry, "default": default}]}))
        with pytest.raises(ConfigError, match="setting G: default: G must be 1 to 8"):
            load_function_settings(table)


def test_a_setting_is_read_as_the_kind_its_reader_expects() -> None:
    assert setting_of(FUNCTION_SETTINGS, "LOG_LEVEL", EnumSetting) is LOG_LEVEL
    with pytest.raises(ConfigError, match="function setting LOG_LEVEL is not of kind IntegerSetting"):
        setting_of(FUNCTION_SETTINGS, "LOG_LEVEL", IntegerSetting)


# ---- I4: the event source mapping's batch size and batching window
def test_the_event_source_defaults_are_full_batches_of_25_within_1_s() -> None:
    c = StackConfig()
    assert (c.batch_size, c.batching_window_seconds) == (DEFAULT_BATCH_SIZE, DEFAULT_BATCHING_WINDOW_SECONDS)
    assert (DEFAULT_BATCH_SIZE, DEFAULT_BATCHING_WINDOW_SECONDS) == (25, 1)
    assert (LOW_LATENCY_BATCH_SIZE, LOW_LATENCY_BATCHING_WINDOW_SECONDS) == (10, 0)


def test_the_low_latency_setting_is_read_from_context_and_environment() -> None:
    for c in (
        from_sources({"eventSourceBatchSize": 10, "eventSourceBatchingWindowSeconds": 0}, {}),
        from_sources({}, {"EVENT_SOURCE_BATCH_SIZE": "10", "EVENT_SOURCE_BATCHING_WINDOW_SECONDS": "0"}),
    ):
        assert (c.batch_size, c.batching_window_seconds) == (10, 0)


@pytest.mark.parametrize(
    ("batch", "window", "accepted"),
    [
        (1, 0, True),
        (10, 0, True),
        (11, 0, False),  # above 10, AWS wants a window of at least 1 s
        (11, 1, True),
        (10_000, 300, True),
        (10_001, 1, False),
        (0, 1, False),
        (-1, 1, False),
        (25, 300, True),
        (25, 301, False),
        (1, -1, False),
    ],
)
def test_the_event_source_is_checked_against_aws_limits(batch: int, window: int, accepted: bool) -> None:
    problem = event_source_problem(batch, window)
    assert (problem is None) is accepted
    if accepted:
        assert StackConfig(batch_size=batch, batching_window_seconds=window).batch_size == batch
    else:
        with pytest.raises(ConfigError) as refused:
            StackConfig(batch_size=batch, batching_window_seconds=window)
        assert str(refused.value) == f"event source: {problem} ({EVENT_SOURCE_SOURCES})"


def test_each_event_source_refusal_says_which_limit() -> None:
    assert event_source_problem(0, 1) == "batch_size must be between 1 and 10000, not 0"
    assert event_source_problem(10, 301) == "the batching window must be within 0..300 s, not 301"
    assert event_source_problem(25, 0) == (
        "AWS requires a batching window of at least 1 s above a batch size of 10 (batch_size 25, window 0 s)"
    )
    assert event_source_problem(25, 0.5) is not None  # the local event source's windows are fractional
    with pytest.raises(ConfigError, match="eventSourceBatchSize"):
        from_sources({}, {"EVENT_SOURCE_BATCH_SIZE": "11", "EVENT_SOURCE_BATCHING_WINDOW_SECONDS": "0"})
    with pytest.raises(ConfigError, match="EVENT_SOURCE_BATCH_SIZE must be an integer"):
        from_sources({}, {"EVENT_SOURCE_BATCH_SIZE": "ten"})
