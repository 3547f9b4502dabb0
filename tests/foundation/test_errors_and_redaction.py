"""One error family with stable codes; secrets never reach the terminal."""

from __future__ import annotations

import pytest

from smx.errors import ExitCode, SmxError, all_error_classes
from smx.redact import redact


def test_every_error_class_has_a_unique_code_and_a_documented_exit_code() -> None:
    classes = all_error_classes()
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), "error codes must be unique"
    allowed = {ExitCode.FAILED_CHECK, ExitCode.USAGE, ExitCode.NETWORK, ExitCode.INTEGRITY,
               ExitCode.INSTALL, ExitCode.INTERRUPTED}
    for cls in classes:
        assert cls.exit_code in allowed, cls
    # a crash has a code of its own, which no error smx means to raise shares
    assert ExitCode.INTERNAL not in allowed and ExitCode.INTERNAL != ExitCode.OK


@pytest.mark.parametrize(("text", "hidden"), [
    ("https://civitai.com/api/download/models/1?token=abcdef123456", "abcdef123456"),
    ("https://user:s3cretpw@mirror.example/x.git", "s3cretpw"),
    ("Authorization: Bearer hf_abcdefghijklmnop", "hf_abcdefghijklmnop"),
    ("https://cdn.example/f?X-Amz-Signature=deadbeefcafe&X-Amz-Expires=1", "deadbeefcafe"),
])
def test_redact_hides_tokens_passwords_and_signatures(text: str, hidden: str) -> None:
    assert hidden not in redact(text)


def test_redact_hides_the_users_own_tokens_wherever_they_appear(monkeypatch) -> None:
    monkeypatch.setenv("CIVITAI_API_TOKEN", "civ-token-value-42")
    assert "civ-token-value-42" not in redact("failed with civ-token-value-42 in it")


def test_cli_renders_errors_without_secrets(smx, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_supersecretvalue1")
    result = smx("--env", str(tmp_path / "hf_supersecretvalue1"), "sync")
    assert result.exit_code == 2
    assert "hf_supersecretvalue1" not in result.output


def test_smx_error_carries_message_hint_and_code() -> None:
    err = SmxError("bad", hint="fix it", code="x.y")
    assert (str(err), err.hint, err.code, err.exit_code) == ("bad", "fix it", "x.y", 2)
