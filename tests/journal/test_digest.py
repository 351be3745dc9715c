"""The one digest function: SHA-256 of exactly the stored bytes, whichever backend."""

from __future__ import annotations

import hashlib
import pathlib
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal import digest

REPO = pathlib.Path(__file__).resolve().parents[2]
# The builtin implementation digest.py imported (not re-exported, hence vars()).
BUILTIN_SHA256 = vars(digest)["_builtin"].sha256


@given(data=st.binary(max_size=4096))
def test_builtin_and_openssl_agree(data: bytes) -> None:
    """The builtin _sha256 and OpenSSL's sha256 give the same digest for any bytes."""
    builtin = BUILTIN_SHA256(data).digest()
    assert builtin == hashlib.sha256(data).digest()
    assert len(builtin) == 32


@given(data=st.binary(max_size=1024))
def test_digest_is_sha256_with_either_backend(data: bytes) -> None:
    """digest() is plain SHA-256 whether it uses the builtin or OpenSSL."""
    expected = hashlib.sha256(data).digest()
    current = digest._sha256
    try:
        digest._sha256 = BUILTIN_SHA256
        assert digest.digest(data) == expected
        digest.use_openssl()
        assert digest._sha256 is hashlib.sha256
        assert digest.digest(data) == expected
    finally:
        digest._sha256 = current


def test_known_vector() -> None:
    """The digest of b"abc" is the FIPS 180-2 test vector."""
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert digest.to_hex(digest.digest(b"abc")) == expected
    assert digest.ALGORITHM == "sha256"


@given(raw=st.binary(min_size=32, max_size=32))
def test_hex_round_trip(raw: bytes) -> None:
    """to_hex gives 64 lowercase hex digits and from_hex reads them back."""
    text = digest.to_hex(raw)
    assert len(text) == 64
    assert text == text.lower()
    assert digest.from_hex(text) == raw


@pytest.mark.parametrize("text", ["", "ab", "a" * 63, "a" * 65], ids=["empty", "2", "63", "65"])
def test_from_hex_wants_a_full_digest(text: str) -> None:
    """from_hex refuses anything but 64 hex characters, saying how many it got."""
    with pytest.raises(ValueError, match=f"got {len(text)}"):
        digest.from_hex(text)


def test_from_hex_refuses_non_hex() -> None:
    """from_hex refuses 64 characters that are not hex."""
    with pytest.raises(ValueError, match="non-hexadecimal"):
        digest.from_hex("g" * 64)


def test_hook_path_uses_the_cheap_builtin() -> None:
    """Without hashlib already imported, the digest module uses the builtin _sha256."""
    code = (
        "import sys\n"
        "import journal.digest as d\n"
        "assert 'hashlib' not in sys.modules, 'hashlib was imported'\n"
        "assert d._sha256 is d._builtin.sha256\n"
        "assert d.digest(b'abc').hex().startswith('ba7816bf')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
