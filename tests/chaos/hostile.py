"""The hostile-input corpus (issue 9 part 3): the hand-written cases of
tests/chaos/hostile-corpus/cases.json plus the
cases too large or too byte-level to write by hand (bodies at the 262,144-byte limit, deep nesting, thousands
of ticks, bytes that SQS itself would refuse).

A `BodyCase` is an SQS message body and what the function must do with it: dead-letter it with exactly
`reason` (None: accepted whole) and store the alerts `alerts` for its good ticks. An `EventCase` is raw bytes
spliced into the event JSON as the body's string literal: what SQS refuses upstream and so never reaches a
deployed function; the function must still survive it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lib.config import ROOT

CASES_FILE = ROOT / "tests" / "chaos" / "hostile-corpus" / "cases.json"
MAX_BODY = 262_144  # F2: bodies above this many bytes (UTF-8) are rejected
TICK_TIME = "2026-11-25T14:30:00Z"
NORMALISED = "2026-11-25T14:30:00.000000Z"
SYMBOL_REASON = "must be a string of 1..16 chars A-Z 0-9 . - / :"
PRICE_REASON = "must be a finite number > 0"
MAX_REASON = 4096  # the handler's bound on a RejectionReason
UNDECODABLE = "body: cannot be decoded from the SQS event ("
CARRIED = "; the dead letter carries the escaped body"


@dataclass(frozen=True)
class BodyCase:
    name: str
    body: str
    reason: str | None
    alerts: tuple[str, ...] = ()
    sqs_accepts: bool = True  # False: SQS refuses the body upstream (noted, still fed to the function)
    reason_prefix: bool = False  # reason is a prefix (truncated reasons end in "...")


@dataclass(frozen=True)
class EventCase:
    name: str
    literal: bytes  # the body's JSON string literal in the event, quotes included
    why_sqs_refuses: str
    reason: str | None = None  # None: the whole event is invalid JSON; else the body's RejectionReason

    @property
    def dead_letter_body(self) -> str:
        """What the dead letter carries: the decoded body, or, when the event cannot decode it, its escaped
        text as the event carries it (lib/lambda/include/tap/core/sqs_event.hpp)."""
        escaped = self.literal[1:-1].decode()
        return escaped if self.reason and self.reason.startswith(UNDECODABLE) else json.loads(self.literal)


def firing_tick(symbol: str, **extra: object) -> dict[str, object]:
    """A valid tick that fires rule block-trade (volume > 100000) for its own symbol."""
    return {"symbol": symbol, "price": 10.0, "timestamp": TICK_TIME, "volume": 200000, **extra}


def alert_id(symbol: str, ts: str = NORMALISED, rule: str = "block-trade") -> str:
    return f"{symbol}|{ts}#{rule}"


def _fraction_filled(symbol: str, size: int) -> str:
    """A one-tick body of exactly `size` bytes whose timestamp's fraction takes up all the room (F2: any
    number of fraction digits)."""
    base = json.dumps(firing_tick(symbol, timestamp="2026-11-25T14:30:00.Z"), separators=(",", ":"))
    digits = "4" * (size - len(base))
    body = base.replace(".Z", f".{digits}Z")
    assert len(body) == size
    return body


def _padded(symbol: str, size: int, pad_char: str = "x") -> str:
    """A one-tick body of exactly `size` UTF-8 bytes: a firing tick plus an unknown field of padding."""
    base = json.dumps(firing_tick(symbol, pad=""), separators=(",", ":"))
    missing = size - len(base.encode())
    width = len(pad_char.encode())
    body = base.replace('"pad":""', '"pad":"' + pad_char * (missing // width) + "x" * (missing % width) + '"')
    assert len(body.encode()) == size
    return body


def file_cases() -> list[BodyCase]:
    document = json.loads(CASES_FILE.read_text(encoding="utf-8"))
    return [
        BodyCase(c["name"], c["body"], c["reason"], tuple(c.get("alerts", ())), c.get("sqs", True))
        for c in document["cases"]
    ]


def generated_cases() -> list[BodyCase]:
    deep = 100_000
    many = 2_400  # ~210 KB: under the size bound
    ticks = [{"symbol": "HL01", "price": 10.0, "timestamp": TICK_TIME, "volume": 100} for _ in range(many)]
    ticks[1_200] = {"symbol": "HL01", "price": 0, "timestamp": TICK_TIME}
    ticks[-1] = firing_tick("HL02")
    all_bad = [{"symbol": "hm01", "price": 1, "timestamp": TICK_TIME} for _ in range(1_000)]
    return [
        BodyCase("size-exactly-262144-bytes", _padded("HK01", MAX_BODY), None, (alert_id("HK01"),)),
        BodyCase(
            "size-exactly-262144-bytes-multibyte", _padded("HK02", MAX_BODY, "€"), None, (alert_id("HK02"),)
        ),
        BodyCase("size-262145-bytes", _padded("HK03", MAX_BODY + 1), "body: 262145 bytes exceeds 262144"),
        # Fewer than 262,144 characters, but more bytes: the bound is on bytes.
        BodyCase(
            "size-262145-bytes-multibyte",
            _padded("HK04", MAX_BODY + 1, "€"),
            "body: 262145 bytes exceeds 262144",
        ),
        BodyCase(
            "ts-fraction-1000-digits",
            json.dumps(firing_tick("HT04", timestamp="2026-11-25T14:30:00." + "5" * 1000 + "Z")),
            None,
            (alert_id("HT04", "2026-11-25T14:30:00.555555Z"),),
        ),
        BodyCase(
            "ts-fraction-filling-262144-bytes",
            _fraction_filled("HT05", MAX_BODY),
            None,
            (alert_id("HT05", "2026-11-25T14:30:00.444444Z"),),
        ),
        BodyCase(
            "ts-fraction-filling-262145-bytes",
            _fraction_filled("HT06", MAX_BODY + 1),
            "body: 262145 bytes exceeds 262144",
        ),
        BodyCase(
            "nesting-100000-arrays",
            "[" * deep + "]" * deep,
            "body: nesting deeper than 4 levels",
        ),
        BodyCase(
            "nesting-arrays-filling-262144-bytes",
            "[" * (MAX_BODY // 2) + "]" * (MAX_BODY // 2),
            "body: nesting deeper than 4 levels",
        ),
        BodyCase(
            "nesting-1000-objects-in-unknown-field",
            '{"symbol":"HK05","price":10,"timestamp":"2026-11-25T14:30:00Z","x":'
            + '{"a":' * 1000
            + "1"
            + "}" * 1000
            + "}",
            "body: nesting deeper than 4 levels",
        ),
        BodyCase(
            "nesting-100-arrays-under-the-parser-limit",
            "[" * 100 + "]" * 100,
            "body: nesting deeper than 4 levels",
        ),
        BodyCase(
            "many-ticks-one-bad",
            json.dumps(ticks),
            f"tick[1200].price: {PRICE_REASON}",
            (alert_id("HL02"),),
        ),
        BodyCase(
            "many-bad-ticks-reason-truncated",
            json.dumps(all_bad),
            "; ".join(f"tick[{i}].symbol: {SYMBOL_REASON}" for i in range(200))[: MAX_REASON - 3] + "...",
        ),
    ]


def body_cases() -> list[BodyCase]:
    return file_cases() + generated_cases()


def event_cases() -> list[EventCase]:
    """Bodies SQS refuses (its allowed characters are #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF,
    as valid UTF-8): the event JSON carries them as the function would receive them if they got through."""
    return [
        EventCase("invalid-utf8-byte-ff", b'"{\\"symbol\\":\\"A\xff\\"}"', "not UTF-8"),
        EventCase("invalid-utf8-overlong-slash", b'"{\\"symbol\\":\\"A\xc0\xaf\\"}"', "overlong UTF-8"),
        EventCase("invalid-utf8-encoded-surrogate", b'"{\\"symbol\\":\\"A\xed\xa0\x80\\"}"', "surrogate"),
        EventCase("invalid-utf8-truncated-sequence", b'"{\\"symbol\\":\\"A\xe2\x82\\"}"', "truncated UTF-8"),
        # F2: a body the event cannot decode is dead-lettered alone, as its escaped text.
        EventCase(
            "lone-surrogate-escape-in-event",
            b'"{\\"symbol\\":\\"\\ud800\\"}"',
            "lone surrogate",
            UNDECODABLE + "lone high surrogate \\ud800 at byte 14 of the escaped body)" + CARRIED,
        ),
        EventCase(
            "lone-low-surrogate-escape-in-event",
            b'"[{\\"symbol\\":\\"HD03\\",\\"x\\":\\"\\udc00\\"}]"',
            "lone surrogate",
            UNDECODABLE + "lone low surrogate \\udc00 at byte 30 of the escaped body)" + CARRIED,
        ),
        EventCase(
            "invalid-escape-in-event",
            b'"{\\"symbol\\":\\q}"',
            "Lambda's event JSON never holds an invalid escape",
            UNDECODABLE + "invalid escape \\q at byte 12 of the escaped body)" + CARRIED,
        ),
        EventCase(
            "short-unicode-escape-in-event",
            b'"{\\"symbol\\":\\"\\u12\\"}"',
            "Lambda's event JSON never holds an invalid escape",
            UNDECODABLE
            + "invalid escape \\u12 (\\u needs 4 hex digits) at byte 14 of the escaped body)"
            + CARRIED,
        ),
        EventCase(
            "nul-escape-in-event",
            b'"{\\"symbol\\":\\"\\u0000\\"}"',
            "U+0000 is not an allowed character",
            "body: invalid JSON (Within strings, some characters must be escaped, we found unescaped"
            " characters)",
        ),
    ]
