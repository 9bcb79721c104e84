"""Annotation overrides: Encrypt returns extra or replaced annotations (catalogue ENV-4)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from sandbox.core.errors import ValidationError
from sandbox.core.events import PluginCall, PluginStateChanged
from sandbox.core.validation import validate_annotations
from sandbox.kms.client import KmsRpcError, KmsV2Client
from sandbox.kms.control_client import PluginControlClient
from sandbox.kms.model import AnnotationOverride
from sandbox.kms.process import PluginProcess
from sandbox.kms.server import RunningPlugin

from .test_cli import cli

OWN = "version.kms-sandbox.dev"
DEK = b"s" * 32
KIB = 1024


def uid() -> str:
    return str(uuid.uuid4())


async def test_extra_annotations_are_added_and_decrypt_still_works(
    plugin: RunningPlugin, kms: KmsV2Client, control: PluginControlClient
) -> None:
    state = await control.set_annotations({"http://foo.example.com": b"1"})
    assert state.annotations == AnnotationOverride({"http://foo.example.com": b"1"}, replace=False)
    enc = await kms.encrypt(DEK, uid())
    assert enc.annotations == {OWN: b"1", "http://foo.example.com": b"1"}
    assert await kms.decrypt(enc.ciphertext, uid(), enc.key_id, enc.annotations) == DEK
    # What an apiserver does with this answer: refuses the write (ENV-4).
    with pytest.raises(ValidationError, match="a lowercase RFC 1123 subdomain must consist of"):
        validate_annotations(enc.annotations)

    events = [e async for e in control.watch_events(replay=10, follow=False)]
    change = next(e for e in events if isinstance(e, PluginStateChanged) and e.change == "annotations")
    assert change.detail == "Encrypt annotations plus: http://foo.example.com (1 B)"
    call = next(e for e in events if isinstance(e, PluginCall) and e.method == "Encrypt")
    assert call.annotation_keys == ("http://foo.example.com", OWN)


async def test_replaced_annotations_with_a_32_kib_value(
    kms: KmsV2Client, control: PluginControlClient
) -> None:
    big = b"v" * (32 * KIB)
    await control.set_annotations({"big.example.com": big}, replace=True)
    enc = await kms.encrypt(DEK, uid())
    assert enc.annotations == {"big.example.com": big}  # the plugin's own is gone
    assert await kms.decrypt(enc.ciphertext, uid(), enc.key_id, enc.annotations) == DEK
    with pytest.raises(ValidationError, match="total size of annotations is 32783, which exceeds"):
        validate_annotations(enc.annotations)

    await control.clear_annotations()
    again = await kms.encrypt(DEK, uid())
    assert again.annotations == {OWN: b"1"}
    validate_annotations(again.annotations)  # a clean answer passes
    # Ciphertexts made under the override still decrypt after it is cleared.
    assert await kms.decrypt(enc.ciphertext, uid(), enc.key_id, enc.annotations) == DEK
    assert (await control.get_state()).annotations.is_default


async def test_two_keys_over_the_limit_and_replace_with_nothing(
    kms: KmsV2Client, control: PluginControlClient
) -> None:
    await control.set_annotations({"a.example.com": b"a" * (31 * KIB), "b.example.com": b"b" * KIB})
    enc = await kms.encrypt(DEK, uid())
    with pytest.raises(
        ValidationError, match=r"total size of annotations is 3\d{4}, which exceeds the max size of 32768"
    ):
        validate_annotations(enc.annotations)
    await control.set_annotations({}, replace=True)
    bare = await kms.encrypt(DEK, uid())
    assert bare.annotations == {}
    assert await kms.decrypt(bare.ciphertext, uid(), bare.key_id, bare.annotations) == DEK


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"": b"x"}, "annotation keys must not be empty"),
        ({OWN: b"2"}, f"annotation {OWN} is the plugin's own"),
        ({"huge.example.com": b"x" * ((1 << 20) + 1)}, "1048577 bytes; expected at most 1048576"),
    ],
)
async def test_bad_overrides_are_refused_and_change_nothing(
    kms: KmsV2Client, control: PluginControlClient, extra: dict[str, bytes], message: str
) -> None:
    with pytest.raises(KmsRpcError, match=message) as err:
        await control.set_annotations(extra)
    assert err.value.code == "InvalidArgument"
    assert (await kms.encrypt(DEK, uid())).annotations == {OWN: b"1"}


async def test_annotations_from_the_cli(short_tmp: Path) -> None:
    plugin = PluginProcess(short_tmp / "p")
    await plugin.start(timeout=30)
    try:
        ctl = ("--control", plugin.control_endpoint)
        code, out, err = await cli(
            "annotations", "set", "http://foo.example.com=1", "big.example.com=", "--pad-to", "32768", *ctl
        )
        assert code == 0, err
        assert out.startswith("Encrypt now returns annotations: the plugin's own plus big.example.com=")
        assert "(32768 B)" in out and "http://foo.example.com='x'" not in out
        async with KmsV2Client(plugin.kms_endpoint) as kms:
            enc = await kms.encrypt(DEK, uid())
        assert enc.annotations["big.example.com"] == b"x" * 32768
        assert enc.annotations["http://foo.example.com"] == b"1" + b"x" * 32767
        code, out, _ = await cli("status", *ctl, "--json")
        shown = json.loads(out)["annotations"]
        assert shown["replace"] is False
        assert shown["extra"]["big.example.com"]["bytes"] == 32768
        code, out, _ = await cli("annotations", "set", "only.example.com=v", "--replace", *ctl)
        assert code == 0 and "only only.example.com='v' (1 B)" in out
        code, out, _ = await cli("annotations", "clear", *ctl)
        assert code == 0 and "own annotation again" in out
        code, out, _ = await cli("status", *ctl)
        assert "annotations the plugin's own only" in out

        code, _, err = await cli("annotations", "set", "no-equals-sign", *ctl)
        assert code == 2
        assert err.strip().endswith(
            "bad annotation 'no-equals-sign'; expected KEY=VALUE, e.g. http://foo.example.com=1"
        )
        code, _, err = await cli("annotations", "set", "a.example.com=1", "a.example.com=2", *ctl)
        assert code == 2 and "given twice" in err
        code, _, err = await cli("annotations", "set", f"{OWN}=2", *ctl)
        assert code == 2 and "is the plugin's own" in err and "Traceback" not in err
    finally:
        await plugin.stop()
