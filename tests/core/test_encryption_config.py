"""EncryptionConfiguration: decoding, defaults, the VAL-1 table and CFG-1..CFG-6."""

from __future__ import annotations

import base64

import pytest

from sandbox.core import encryption_config as ec
from sandbox.core.errors import ConfigError

K16 = base64.b64encode(b"0123456789abcdef").decode()
K32 = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()

HEAD = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"


def cfg(body: str) -> str:
    return HEAD + body


def load_error(text: str, **kw: object) -> str:
    with pytest.raises(ConfigError) as exc:
        ec.load_encryption_config(text, **kw)  # type: ignore[arg-type]
    return str(exc.value)


KMS_V2 = """
resources:
  - resources: [secrets]
    providers:
      - kms: {apiVersion: v2, name: %s, endpoint: "%s"%s}
"""


def kms_v2(name: str = "p", endpoint: str = "unix:///@kms.sock", extra: str = "") -> str:
    return cfg(KMS_V2 % (name, endpoint, extra))


def test_defaults_and_prefixes() -> None:
    c = ec.load_encryption_config(
        cfg(f"""
resources:
  - resources: [secrets, configmaps]
    providers:
      - kms: {{apiVersion: v2, name: kms-provider, endpoint: "unix:///@kms-provider.sock"}}
      - kms: {{name: old, endpoint: "unix:///tmp/old.sock"}}
      - aescbc: {{keys: [{{name: key1, secret: {K32}}}]}}
      - aesgcm: {{keys: [{{name: g1, secret: {K16}}}]}}
      - secretbox: {{keys: [{{name: s1, secret: {K32}}}]}}
      - identity: {{}}
"""),
        feature_gates={"KMSv1": True},
    )
    providers = c.resources[0].providers
    assert providers[0].kms == ec.KMSConfig("kms-provider", "unix:///@kms-provider.sock", "v2", 3.0, None)
    assert providers[1].kms == ec.KMSConfig("old", "unix:///tmp/old.sock", "v1", 3.0, 1000)
    assert [p.prefix for p in providers] == [
        "k8s:enc:kms:v2:kms-provider:",
        "k8s:enc:kms:v1:old:",
        "k8s:enc:aescbc:v1:key1:",
        "k8s:enc:aesgcm:v1:g1:",
        "k8s:enc:secretbox:v1:s1:",
        "",
    ]
    assert providers[2].keys[0].key_bytes == b"0123456789abcdef" * 2
    assert "0123" not in repr(providers[2].keys[0])  # key material never in reprs


def test_cfg1_legacy_config() -> None:
    c = ec.load_encryption_config(
        """
kind: EncryptionConfig
apiVersion: v1
resources:
  - resources: [secrets, namespaces]
    providers:
      - kms: {name: testprovider, endpoint: "unix:///tmp/testprovider.sock", cachesize: 10}
""",
        minor=28,
    )
    assert c.kind == "EncryptionConfig"
    kms = c.resources[0].providers[0].kms
    assert kms is not None
    assert (kms.api_version, kms.cachesize, kms.timeout_seconds) == ("v1", 10, 3.0)


@pytest.mark.parametrize(
    ("timeouts", "expected_sum"),
    [
        ([("v1", "3s")], 6),
        ([("v1", "3s"), ("v1", "3s")], 12),
        ([("v2", "15s"), ("v2", "5s"), ("v2", "10s"), ("v2", "2s")], 32),
        ([("v1", "1s"), ("v2", "1s"), ("v1", "4s"), ("v1", "2s")], 15),
    ],
)
def test_cfg4_timeout_sums(timeouts: list[tuple[str, str]], expected_sum: int) -> None:
    providers = "".join(
        f'      - kms: {{apiVersion: {v}, name: p{i}, endpoint: "unix:///tmp/{i}.sock", timeout: {t}}}\n'
        for i, (v, t) in enumerate(timeouts)
    )
    c = ec.load_encryption_config(
        cfg(f"resources:\n  - resources: [secrets]\n    providers:\n{providers}"),
        feature_gates={"KMSv1": True},
    )
    assert ec.kms_timeout_sum(c) == expected_sum
    assert ec.kms_close_grace_period(c) == 2 * expected_sum


def test_cfg2_kmsv2_first_grace_period() -> None:
    c = ec.load_encryption_config(
        cfg("""
resources:
  - resources: [secrets]
    providers:
      - kms: {apiVersion: v2, name: testproviderv2, endpoint: "unix:///tmp/v2.sock", timeout: 15s}
      - kms: {name: testprovider, endpoint: "unix:///tmp/v1.sock", timeout: 3s}
      - identity: {}
"""),
        feature_gates={"KMSv1": True},
    )
    assert ec.kms_close_grace_period(c) == 42


def test_cfg2_strict_decoding_typo() -> None:
    text = cfg(
        """
resources:
  - resources: [secrets]
    providers:
      - identity: {}
      - aesgcm: {keys: [{name: k, secret: K16}]}
      - aescbc: {keys: [{name: k, secret: K32}]}
      - kms: {apiVersion: v2, name: p, endpoint: "unix:///x.sock", pandas: 1}
""".replace("K16", K16).replace("K32", K32)
    )
    msg = load_error(text, path="/etc/enc.yaml")
    assert msg == (
        'error decoding encryption provider configuration file "/etc/enc.yaml": '
        'strict decoding error: unknown field "resources[0].providers[3].kms.pandas"'
    )
    # Before 1.31 the unknown field is silently ignored.
    assert ec.load_encryption_config(text, minor=30).resources[0].providers[3].kind == "kms"


def test_cfg2_empty_aesgcm_keys() -> None:
    msg = load_error(
        cfg("resources:\n  - resources: [secrets]\n    providers:\n      - aesgcm: {keys: []}\n")
    )
    assert msg == "resources[0].providers[0].aesgcm.keys: Required value: at least one keys is required"


def test_cfg3_kmsv1_deprecation() -> None:
    v1 = cfg(
        'resources:\n  - resources: [secrets]\n    providers:\n      - kms: {name: a, endpoint: "unix:///a"}\n'
    )
    assert load_error(v1, minor=29) == (
        "KMSv1 is deprecated and will only receive security updates going forward. Use KMSv2 instead.  "
        "Set --feature-gates=KMSv1=true to use the deprecated KMSv1 feature."
    )
    ec.load_encryption_config(v1, minor=28)  # default on until 1.28
    ec.load_encryption_config(v1, minor=36, feature_gates={"KMSv1": True})
    mixed = v1.replace(
        "providers:\n", 'providers:\n      - kms: {apiVersion: v2, name: b, endpoint: "unix:///b"}\n'
    )
    assert "KMSv1 is deprecated" in load_error(mixed)
    ec.load_encryption_config(kms_v2(), minor=29)


def test_kmsv2_gate_on_1_25() -> None:
    assert load_error(kms_v2(name="foo"), minor=25) == (
        'could not configure KMSv2 plugin "foo", KMSv2 feature is not enabled'
    )
    ec.load_encryption_config(kms_v2(), minor=25, feature_gates={"KMSv2": True})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'encryption provider configuration file "f.yaml" is empty'),
        ("kinds: x\n", "error decoding encryption provider configuration file"),
        (
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfigurations\n",
            'no kind "EncryptionConfigurations" is registered for version "apiserver.config.k8s.io/v1"',
        ),
        ("{{{", "error decoding encryption provider configuration file"),
    ],
)
def test_cfg5_load_errors(text: str, message: str) -> None:
    assert message in load_error(text, path="f.yaml")


def test_cfg5_unsupported_kms_api_version() -> None:
    text = cfg(
        'resources:\n  - resources: [secrets]\n    providers:\n      - kms: {apiVersion: v3, name: p, endpoint: "unix:///a"}\n'  # noqa: E501
    )
    assert load_error(text) == (
        'resources[0].providers[0].kms.apiVersion: Invalid value: "v3": '
        "unsupported apiVersion apiVersion for KMS provider, only v1 and v2 are supported"
    )


def entries(*rules: tuple[str, str]) -> str:
    body = "resources:\n"
    for resources, name in rules:
        body += f'  - resources: [{resources}]\n    providers:\n      - kms: {{apiVersion: v2, name: {name}, endpoint: "unix:///{name}"}}\n'  # noqa: E501
    return cfg(body)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([("'*.'", "a"), ("secrets", "b")], 'resource "secrets" is masked by earlier rule "*."'),
        ([("'*.'", "a"), ("'*.'", "b")], 'resource "*." is masked by earlier rule "*."'),
        ([("'*.foo'", "a"), ("'*.foo'", "b")], 'resource "*.foo" is masked by earlier rule "*.foo"'),
        ([("'*.*'", "a"), ("'*.*'", "b")], 'resource "*.*" is masked by earlier rule "*.*"'),
        ([("'*.*'", "a"), ("secrets", "b")], 'resource "secrets" is masked by earlier rule "*.*"'),
        ([("'*.*'", "a"), ("'*.'", "b")], 'resource "*." is masked by earlier rule "*.*"'),
    ],
)
def test_cfg6_wildcard_masking(rules: list[tuple[str, str]], message: str) -> None:
    assert load_error(entries(*rules)) == message


def test_cfg6_resolution() -> None:
    c = ec.load_encryption_config(
        entries(
            ("configmaps, '*.apps'", "kms"),
            ("secrets", "another-kms"),
            ("'*.'", "fancy"),
            ("'*.*'", "yet-another-provider"),
        )
    )

    def first(resource: str, group: str = "") -> str:
        kms = ec.provider_chain_for(c, resource, group)[0].kms
        assert kms is not None
        return kms.name

    assert [first("pods"), first("events"), first("pandas")] == ["fancy"] * 3
    assert first("pandas", "bears") == "yet-another-provider"
    assert first("jobs", "apps") == first("deployments", "apps") == "kms"
    assert first("secrets") == "another-kms"
    assert first("configmaps") == "kms"


def test_pfx5_unmatched_resource_gets_identity() -> None:
    c = ec.load_encryption_config(kms_v2())
    assert ec.provider_chain_for(c, "configmaps") == [ec.IDENTITY]
    assert ec.provider_chain_for(c, "configmaps")[0].prefix == ""


def test_cfg13_config_hash() -> None:
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert ec.config_hash("", minor=33) == f"k8s:enc:unstable:1:{empty}"
    assert ec.config_hash(b"", minor=34) == f"sha256:{empty}"


# --- VAL-1: the validation table ------------------------------------------------------------


def one_provider(provider: str, resources: str = "secrets") -> str:
    return cfg(f"resources:\n  - resources: [{resources}]\n    providers:\n      - {provider}\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (cfg("resources: []\n"), "resources: Required value: at least one resources is required"),
        (
            cfg("resources:\n  - resources: []\n    providers:\n      - identity: {}\n"),
            "resources[0].resources: Required value: at least one resources[0].resources is required",
        ),
        (
            cfg("resources:\n  - resources: [secrets]\n    providers: []\n"),
            "resources[0].providers: Required value: at least one resources[0].providers is required",
        ),
        (
            one_provider(f"{{identity: {{}}, aescbc: {{keys: [{{name: k, secret: {K32}}}]}}}}"),
            "resources[0].providers[0]: Invalid value: apiserver.ProviderConfiguration{AESGCM:(*apiserver.AESConfiguration)(nil), "  # noqa: E501
            "AESCBC:(*apiserver.AESConfiguration)(0xc000010000), Secretbox:(*apiserver.SecretboxConfiguration)(nil), "  # noqa: E501
            "Identity:(*apiserver.IdentityConfiguration)(0xc000010000), KMS:(*apiserver.KMSConfiguration)(nil)}: "  # noqa: E501
            "more than one provider specified in a single element, should split into different list elements",
        ),
        (
            one_provider(f"aescbc: {{keys: [{{secret: {K32}}}]}}"),
            "resources[0].providers[0].aescbc.keys[0].name: Required value: name is a mandatory field for a key",  # noqa: E501
        ),
        (
            one_provider("aesgcm: {keys: [{name: k}]}"),
            "resources[0].providers[0].aesgcm.keys[0].secret: Required value: secret is a mandatory field for a key",  # noqa: E501
        ),
        (
            one_provider("aesgcm: {keys: [{name: k, secret: 'not base64!'}]}"),
            'resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: "REDACTED": secrets must be base64 encoded',  # noqa: E501
        ),
        (
            one_provider(f"aesgcm: {{keys: [{{name: k, secret: {base64.b64encode(bytes(10)).decode()}}}]}}"),
            'resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: "REDACTED": '
            "secret is not of the expected length, got 10, expected one of [16 24 32]",
        ),
        (
            one_provider(f"secretbox: {{keys: [{{name: k, secret: {K16}}}]}}"),
            'resources[0].providers[0].secretbox.keys[0].secret: Invalid value: "REDACTED": '
            "secret is not of the expected length, got 16, expected one of [32]",
        ),
        (
            one_provider('kms: {apiVersion: v2, endpoint: "unix:///a"}'),
            "resources[0].providers[0].kms.name: Required value: name is a mandatory field for a provider",
        ),
        (
            kms_v2(extra=", timeout: -1s"),
            "resources[0].providers[0].kms.timeout: Invalid value: -1s: timeout should be a positive value",
        ),
        (
            kms_v2(endpoint=""),
            'resources[0].providers[0].kms.endpoint: Invalid value: "": endpoint is a mandatory field for a kms',  # noqa: E501
        ),
        (
            kms_v2(endpoint="unix:///foo\\n.socket"),
            'resources[0].providers[0].kms.endpoint: Invalid value: "unix:///foo\\n.socket": invalid endpoint for '  # noqa: E501
            'kms provider, error: parse "unix:///foo\\n.socket": net/url: invalid control character in URL',
        ),
        (
            kms_v2(endpoint="https://a"),
            'resources[0].providers[0].kms.endpoint: Invalid value: "https://a": '
            'unsupported scheme "https" for KMS provider, only unix is supported',
        ),
        (
            kms_v2(extra=", cachesize: 5"),
            "resources[0].providers[0].kms.cachesize: Invalid value: 5: cachesize is not supported in v2",
        ),
        (
            one_provider('kms: {name: a, endpoint: "unix:///a", cachesize: 0}'),
            "resources[0].providers[0].kms.cachesize: Invalid value: 0: "
            "cachesize should be a positive value, or negative to disable",
        ),
        (
            one_provider("identity: {}", "Secrets"),
            'resources[0].resources[0]: Invalid value: "Secrets": resource name should not contain capital letters',  # noqa: E501
        ),
        (
            one_provider("identity: {}", "'*'"),
            "resources[0].resources[0]: Invalid value: \"*\": use '*.' to encrypt all the resources from core "  # noqa: E501
            "API group or *.* to encrypt all resources",
        ),
        (
            one_provider("identity: {}", "serviceipallocations"),
            'resources[0].resources[0]: Invalid value: "serviceipallocations": '
            "resources which do not have REST API/s cannot be encrypted",
        ),
        (
            one_provider("identity: {}", "'*.events.k8s.io'"),
            "resources[0].resources[0]: Invalid value: \"*.events.k8s.io\": '*.events.k8s.io' objects are stored "  # noqa: E501
            "using the 'events' API group in etcd. Use 'events' instead in the config file",
        ),
        (
            one_provider("identity: {}", "deployments.extensions"),
            'resources[0].resources[0]: Invalid value: "deployments.extensions": '
            "'extensions' group has been removed and cannot be used for encryption",
        ),
        (
            one_provider("identity: {}", "'secrets.*'"),
            'resources[0].resources[0]: Invalid value: "secrets.*": '
            "encrypting the same resource across groups is not supported",
        ),
        (
            one_provider("identity: {}", "secrets, secrets."),
            'resources[0].resources: Invalid value: []string{"secrets", "secrets."}: '
            "the same resource cannot be specified multiple times",
        ),
        (
            one_provider("identity: {}", "'deployments.apps', '*.apps'"),
            'resources[0].resources: Invalid value: []string{"deployments.apps", "*.apps"}: using overlapping '  # noqa: E501
            "resources such as 'secrets' and '*.' in the same resource list is not allowed as they will be masked",  # noqa: E501
        ),
    ],
)
def test_val1_single_errors(text: str, message: str) -> None:
    assert load_error(text) == message


@pytest.mark.parametrize("resources", ["'*.apps', '*.'", "'deployments.apps', '*.'"])
def test_val1_allowed_combinations(resources: str) -> None:
    ec.load_encryption_config(one_provider("identity: {}", resources))


def test_val1_name_rules_and_aggregation() -> None:
    text = cfg("""
resources:
  - resources: [secrets]
    providers:
      - kms: {apiVersion: v2, name: "a:b", endpoint: "unix:///a"}
  - resources: [configmaps]
    providers:
      - kms: {apiVersion: v2, name: "a:b", endpoint: "unix:///b"}
""")
    with pytest.raises(ConfigError) as exc:
        ec.load_encryption_config(text)
    assert exc.value.field_errors == (
        "resources[0].providers[0].kms.name: Invalid value: \"a:b\": invalid KMS provider name a:b, must not contain ':'",  # noqa: E501
        "resources[1].providers[0].kms.name: Invalid value: \"a:b\": invalid KMS provider name a:b, must not contain ':'",  # noqa: E501
        'resources[1].providers[0].kms.name: Invalid value: "a:b": duplicate KMS provider name a:b, names must be unique',  # noqa: E501
    )
    assert str(exc.value).startswith("[resources[0]") and str(exc.value).endswith("names must be unique]")


def test_v1_duplicate_names_only_with_reload() -> None:
    text = cfg("""
resources:
  - resources: [secrets]
    providers:
      - kms: {name: a, endpoint: "unix:///a"}
      - kms: {name: a, endpoint: "unix:///b"}
""")
    ec.load_encryption_config(text, feature_gates={"KMSv1": True})
    assert "duplicate KMS provider name a" in load_error(text, reload=True, feature_gates={"KMSv1": True})


def test_release_leniency() -> None:
    assert (
        ec.load_encryption_config(kms_v2(extra=", cachesize: 5"), minor=26, feature_gates={"KMSv2": True})
        .resources[0]
        .providers[0]
        .kms
    )
    dup = cfg(
        "resources:\n  - resources: [secrets]\n    providers:\n"
        '      - kms: {apiVersion: v2, name: a, endpoint: "unix:///a"}\n'
        '      - kms: {apiVersion: v2, name: a, endpoint: "unix:///b"}\n'
    )
    ec.load_encryption_config(dup, minor=25, feature_gates={"KMSv2": True})
    assert "duplicate KMS provider name" in load_error(dup, minor=26, feature_gates={"KMSv2": True})


def test_yaml_null_provider_counts_as_absent() -> None:
    assert "provider does not contain any of the expected providers" in load_error(one_provider("identity:"))


@pytest.mark.parametrize(
    ("text", "fragment"), [("3", "time: missing unit in duration"), ("abc", "time: invalid duration")]
)
def test_bad_timeouts_are_decode_errors(text: str, fragment: str) -> None:
    assert fragment in load_error(kms_v2(extra=f", timeout: '{text}'"))
