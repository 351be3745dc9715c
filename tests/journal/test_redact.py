"""The secret rules of :mod:`journal.redact`: one true positive and near-misses per rule.

True positives follow the providers' documented formats (AWS's own example keys,
Stripe's documented test-key body, the jwt.io example token); none is a live
credential. A near-miss looks like the secret but is not one, and must come out
byte for byte as it went in.
"""

from __future__ import annotations

import json
import pathlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal import payload, redact

_B64 = "Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTBhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5eg"

#: rule -> (text holding the secret, the secret itself)
SECRETS: dict[str, tuple[str, str]] = {
    "aws-access-key": ("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    "aws-secret-key": (
        "[default]\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    "anthropic-api-key": (
        "curl https://api.anthropic.com/v1/messages -H 'x-api-key: sk-ant-api03-"
        + "Qx7" * 31
        + "AA'",
        "sk-ant-api03-" + "Qx7" * 31 + "AA",
    ),
    "openai-api-key": (
        "OPENAI_API_KEY=sk-proj-" + "a1B2c3D4_-" * 12,
        "sk-proj-" + "a1B2c3D4_-" * 12,
    ),
    "google-api-key": (
        "fetch('https://maps.googleapis.com/?key=AIzaSyA1b2C3d4E5f6G7h8I9j0K_L-mNoPqRsTu')",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0K_L-mNoPqRsTu",
    ),
    "github-token": (
        "git clone https://x:ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8@github.com/o/r",
        "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    ),
    "gitlab-token": ("GITLAB_TOKEN=glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm", "glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm"),
    "slack-token": (
        "SLACK_BOT=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    ),
    "stripe-key": (
        "stripe.api_key = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'",
        "4eC39HqLyjWDarjtT1zdp7dc",
    ),
    "private-key": (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
        "QyNTUxOQAAACDqvUDb0mWi6Y2m7Bf1xLJ7Zq4uNOPE\n-----END OPENSSH PRIVATE KEY-----\n",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
    ),
    "jwt": (
        "Cookie: session=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFt"
        "ZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ),
    "url-password": (
        "DATABASE_URL=postgres://app:Tr0ub4dor-and-3@db.internal:5432/app",
        "Tr0ub4dor-and-3",
    ),
    "authorization-header": (
        'curl -H "Authorization: Bearer 8f3c2e1d9b7a6f5e4d3c2b1a0f9e" https://api.example.com',
        "8f3c2e1d9b7a6f5e4d3c2b1a0f9e",
    ),
    "secret-assignment": (
        "APP_ENV=prod\nDB_PASSWORD=correct-horse-battery\nPORT=80\n",
        "correct-horse-battery",
    ),
}

#: rule -> texts that look alike and must stay untouched
NEAR_MISSES: dict[str, list[str]] = {
    "aws-access-key": ["AKIAIOSFODNN7EXAMPL", "akiaiosfodnn7example", "XAKIAIOSFODNN7EXAMPLE"],
    "aws-secret-key": [
        "aws_secret_access_key = ${AWS_SECRET}",
        "the aws_secret_access_key setting",
    ],
    "anthropic-api-key": ["sk-ant-api03-short", "the mask-ant-api03-" + "a" * 40],
    "openai-api-key": ["sk-learn is a library", "risk-proj-abcdefghijklmnopqrstuvwxyz"],
    "google-api-key": ["AIzaSyShort", "xAIzaSyA1b2C3d4E5f6G7h8I9j0K_L-mNoPqRsTu"],
    "github-token": ["ghp_short", "ghx_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"],
    "gitlab-token": ["glpat-short", "glpat_Zx9Yw8Vu7Ts6Rq5Po4Nm"],
    "slack-token": ["xoxz-1234567890-abcdefgh", "xoxb-123"],
    "stripe-key": ["pk_live_51HqLyjWDarjtT1zdp7dcXyZ", "sk_live_short"],
    "private-key": [
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOC\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUF\n",
    ],
    "jwt": ["eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9.payload.signature"],
    "url-password": [
        "https://example.com:8443/path?q=1",
        "ssh://git@github.com/org/repo.git",
        "https://user@example.com/",
        "postgres://app:${DB_PASSWORD}@db:5432/app",
    ],
    "authorization-header": ["Authorization: Bearer $TOKEN", "the authorization header is missing"],
    "secret-assignment": [
        "max_tokens=1024",
        "password=None",
        "token=$GITHUB_TOKEN",
        'token = os.environ["TOKEN"]',
        "PWD=/home/dev/src",
        "token_count=3",
    ],
}


def wrapped(text: str) -> bytes:
    """A Claude Code PostToolUse payload whose tool output is ``text``."""
    event = {
        "session_id": "s1",
        "hook_event_name": "PostToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "cat .env"},
        "tool_response": {"stdout": text, "stderr": "", "interrupted": False},
    }
    return json.dumps(event, separators=(",", ":")).encode()


def test_every_rule_has_a_true_positive_and_near_misses() -> None:
    """The case tables cover exactly the built-in rules."""
    names = [rule.name for rule in redact.RULES]
    assert sorted(SECRETS) == sorted(names) == sorted(NEAR_MISSES)
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("rule", sorted(SECRETS))
def test_a_secret_is_replaced_by_its_typed_marker(rule: str) -> None:
    """Each rule masks its documented format inside a JSON string; the JSON stays valid."""
    text, secret = SECRETS[rule]
    out = redact.redact(wrapped(text))
    assert secret.encode() not in out
    assert f"[REDACTED:{rule}]".encode() in out
    decoded = json.loads(out)
    assert decoded["tool_input"] == {"command": "cat .env"}
    assert secret not in decoded["tool_response"]["stdout"]


@pytest.mark.parametrize(
    ("rule", "text"),
    [(rule, text) for rule, texts in sorted(NEAR_MISSES.items()) for text in texts],
)
def test_a_near_miss_stays_byte_for_byte(rule: str, text: str) -> None:
    """Look-alikes that are not secrets are not touched at all."""
    data = wrapped(text)
    assert redact.redact(data) == data


def test_contextual_rules_keep_the_name_and_mask_only_the_value() -> None:
    """``DB_PASSWORD=…`` keeps its name; a URL keeps its user and host."""
    out = json.loads(
        redact.redact(wrapped(SECRETS["secret-assignment"][0] + " " + SECRETS["url-password"][0]))
    )
    stdout = out["tool_response"]["stdout"]
    assert "DB_PASSWORD=[REDACTED:secret-assignment]\nPORT=80" in stdout
    assert "postgres://app:[REDACTED:url-password]@db.internal:5432/app" in stdout


def test_a_private_key_block_with_json_newline_escapes_becomes_one_marker() -> None:
    """The block's ``\\n`` escapes are consumed whole: the result still parses."""
    text, _secret = SECRETS["private-key"]
    out = redact.redact(wrapped("before\n" + text + "after"))
    assert json.loads(out)["tool_response"]["stdout"] == "before\n[REDACTED:private-key]\nafter"


def test_a_truncated_private_key_is_masked_to_the_end_of_its_string() -> None:
    """A block cut off before its END line still loses its body, and only that string."""
    text = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAq7BFUPgm\n"
    out = json.loads(redact.redact(wrapped(text)))
    assert out["tool_response"]["stdout"] == "[REDACTED:private-key]"
    assert out["tool_response"]["stderr"] == ""


def test_a_payload_without_triggers_is_returned_as_the_same_object() -> None:
    """No trigger, no work: the very input object comes back (no copy)."""
    data = wrapped("ls -la\ntotal 0\n")
    assert redact.redact(data) is data


def test_redaction_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """``AGENT_JOURNAL_REDACT=0`` stores the agent's bytes as they came."""
    data = wrapped(SECRETS["aws-access-key"][0])
    monkeypatch.setenv("AGENT_JOURNAL_REDACT", "0")
    assert redact.redact(data) == data
    assert payload.validate(data) == data
    monkeypatch.setenv("AGENT_JOURNAL_REDACT", "1")
    assert payload.validate(data) != data


def test_a_user_rules_file_adds_patterns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    """Lines of the rules file add named patterns; a bad line is skipped, not fatal."""
    rules = tmp_path / "redact.jsonl"
    rules.write_text(
        '{"name": "acme-token", "pattern": "acme_[A-Za-z0-9]{16}", "triggers": ["acme_"]}\n'
        "# a comment\n"
        "not json\n"
        '{"name": "Bad Name", "pattern": "x"}\n'
        '{"name": "broken", "pattern": "(unclosed"}\n'
        '{"name": "pin", "pattern": "pin:(?P<s>[0-9]{6})", "triggers": ["PIN:"],'
        ' "ignore_case": true}\n'
    )
    monkeypatch.setenv("AGENT_JOURNAL_REDACT_RULES", str(rules))
    redact.reset()
    try:
        assert redact.names()[-2:] == ("acme-token", "pin")
        out = redact.redact(wrapped("key acme_0123456789abcdef and PIN:123456 here"))
        assert json.loads(out)["tool_response"]["stdout"] == (
            "key [REDACTED:acme-token] and PIN:[REDACTED:pin] here"
        )
    finally:
        monkeypatch.delenv("AGENT_JOURNAL_REDACT_RULES")
        redact.reset()
    assert "acme-token" not in redact.names()


def test_both_validators_store_the_same_masked_bytes() -> None:
    """The stdlib validator (hook), msgspec (one item) and the batch path agree."""
    items = [wrapped(text) for text, _secret in SECRETS.values()]
    stdlib = [payload.validate(item) for item in items]
    assert [payload.validate_fast(item) for item in items] == stdlib
    assert [
        verdict[0] for verdict in payload.validate_many(items) if not isinstance(verdict, str)
    ] == stdlib
    assert all(b"[REDACTED:" in stored for stored in stdlib)


def test_count_reads_the_markers_of_stored_bytes() -> None:
    """Counting goes by the markers in the stored bytes, per rule."""
    stored = redact.redact(
        wrapped(SECRETS["jwt"][0] + " " + SECRETS["jwt"][0] + " " + SECRETS["gitlab-token"][0])
    )
    counts: dict[bytes, int] = {}
    redact.count(stored, counts)
    assert counts == {b"jwt": 2, b"gitlab-token": 1}
    redact.count(b'{"a":"[REDACTED:Not A Rule] [REDACTED:unterminated"}', counts)
    assert counts == {b"jwt": 2, b"gitlab-token": 1}


_pieces = st.one_of(
    st.text(st.characters(exclude_categories=["Lu"]), max_size=30),  # no key of its own
    st.sampled_from([text for text, _secret in SECRETS.values()]),
    st.sampled_from(
        [
            text
            for texts in NEAR_MISSES.values()
            for text in texts
            if not any(secret in text for _text, secret in SECRETS.values())
        ]
    ),
    st.sampled_from(["\\", '"', "\n", "\\n", "\u2028", "é", "\x00", "://", "=", "@"]),
)


@given(st.lists(_pieces, max_size=8), st.lists(st.text(max_size=5), max_size=4))
def test_masked_json_always_parses_and_loses_every_secret(
    parts: list[str], keys: list[str]
) -> None:
    """Whatever surrounds the secrets (escapes, quotes, unicode), the output is JSON
    of the same shape, with no secret left in it."""
    value = {"k" + str(i) + key: " ".join(parts[i:]) for i, key in enumerate(keys)}
    value["text"] = " ".join(parts)
    for ascii_only in (True, False):
        data = json.dumps(value, ensure_ascii=ascii_only).encode()
        out = redact.redact(data)
        decoded = json.loads(out)
        assert sorted(decoded) == sorted(value)
        for _text, secret in SECRETS.values():
            assert secret.encode() not in out
