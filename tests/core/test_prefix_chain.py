"""PFX-1..PFX-5 at the format level: which providers may read a value, and what a write carries."""

from __future__ import annotations

from sandbox.core import encryption_config as ec
from sandbox.core import local_providers as lp
from sandbox.core.prefixes import ENCRYPTED_MARK, IDENTITY_REFUSES, NO_MATCHING_PREFIX, read_candidates

CONFIG = """
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - kms: {apiVersion: v2, name: second, endpoint: "unix:///b"}
      - kms: {apiVersion: v2, name: first, endpoint: "unix:///a"}
      - aescbc: {keys: [{name: k1, secret: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=}]}
      - identity: {}
"""


def chain_prefixes() -> list[str]:
    config = ec.load_encryption_config(CONFIG)
    return [p.prefix for p in ec.provider_chain_for(config, "secrets")]


def test_pfx3_writes_use_the_first_provider() -> None:
    assert chain_prefixes()[0] == "k8s:enc:kms:v2:second:"


def test_pfx1_first_match_reads_and_non_first_is_stale() -> None:
    prefixes = chain_prefixes()
    assert read_candidates(b"k8s:enc:kms:v2:second:\x0a\x01x", prefixes) == [0]
    stale = read_candidates(b"k8s:enc:kms:v2:first:\x0a\x01x", prefixes)
    assert stale == [1] and stale[0] != 0  # read by a later provider: stale
    assert read_candidates(lp.encrypt_value("aescbc", "k1", bytes(32), b"v", b""), prefixes) == [2]


def test_pfx2_no_match() -> None:
    assert read_candidates(b"k8s:enc:kms:v2:other:xx", ["k8s:enc:kms:v2:second:"]) == []
    assert NO_MATCHING_PREFIX == "no matching prefix found"


def test_pfx4_identity_refuses_encrypted_data_and_lookup_continues() -> None:
    prefixes = ["", "k8s:enc:kms:v2:p:"]
    assert read_candidates(b"k8s:enc:kms:v2:p:\x0a\x01x", prefixes) == [1]
    assert read_candidates(b"k8s\x00plain", prefixes) == [0]
    assert ENCRYPTED_MARK == b"k8s:enc:"
    assert IDENTITY_REFUSES == "identity transformer tried to read encrypted data"


def test_pfx5_unmatched_resources_are_identity() -> None:
    config = ec.load_encryption_config(CONFIG)
    assert [p.prefix for p in ec.provider_chain_for(config, "configmaps")] == [""]


def test_cfg12_same_prefix_several_keys() -> None:
    # Two aescbc keys share the `k8s:enc:aescbc:v1:` family; each key has its own prefix.
    assert read_candidates(
        b"k8s:enc:aescbc:v1:k2:xx", ["k8s:enc:aescbc:v1:k1:", "k8s:enc:aescbc:v1:k2:"]
    ) == [1]
