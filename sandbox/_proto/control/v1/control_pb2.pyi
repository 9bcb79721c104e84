from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OutageMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTAGE_NONE: _ClassVar[OutageMode]
    OUTAGE_UNAVAILABLE: _ClassVar[OutageMode]
    OUTAGE_HANG: _ClassVar[OutageMode]
OUTAGE_NONE: OutageMode
OUTAGE_UNAVAILABLE: OutageMode
OUTAGE_HANG: OutageMode

class SetAnnotationsRequest(_message.Message):
    __slots__ = ("extra", "replace")
    class ExtraEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    extra: _containers.ScalarMap[str, bytes]
    replace: bool
    def __init__(self, extra: _Optional[_Mapping[str, bytes]] = ..., replace: _Optional[bool] = ...) -> None: ...

class SetKeyringSyncRequest(_message.Message):
    __slots__ = ("paused",)
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    paused: bool
    def __init__(self, paused: _Optional[bool] = ...) -> None: ...

class GetStateRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateResponse(_message.Message):
    __slots__ = ("key_id", "previous_key_id")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    previous_key_id: str
    def __init__(self, key_id: _Optional[str] = ..., previous_key_id: _Optional[str] = ...) -> None: ...

class RetireRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class RetireResponse(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class SetHealthRequest(_message.Message):
    __slots__ = ("healthz", "key_id_mode", "custom_key_id", "version_override")
    class KeyIdMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KEY_ID_REAL: _ClassVar[SetHealthRequest.KeyIdMode]
        KEY_ID_EMPTY: _ClassVar[SetHealthRequest.KeyIdMode]
        KEY_ID_TOO_LONG: _ClassVar[SetHealthRequest.KeyIdMode]
        KEY_ID_CUSTOM: _ClassVar[SetHealthRequest.KeyIdMode]
    KEY_ID_REAL: SetHealthRequest.KeyIdMode
    KEY_ID_EMPTY: SetHealthRequest.KeyIdMode
    KEY_ID_TOO_LONG: SetHealthRequest.KeyIdMode
    KEY_ID_CUSTOM: SetHealthRequest.KeyIdMode
    HEALTHZ_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_MODE_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    healthz: str
    key_id_mode: SetHealthRequest.KeyIdMode
    custom_key_id: str
    version_override: str
    def __init__(self, healthz: _Optional[str] = ..., key_id_mode: _Optional[_Union[SetHealthRequest.KeyIdMode, str]] = ..., custom_key_id: _Optional[str] = ..., version_override: _Optional[str] = ...) -> None: ...

class SetOutageRequest(_message.Message):
    __slots__ = ("mode",)
    MODE_FIELD_NUMBER: _ClassVar[int]
    mode: OutageMode
    def __init__(self, mode: _Optional[_Union[OutageMode, str]] = ...) -> None: ...

class Fault(_message.Message):
    __slots__ = ("method", "latency_ms", "code", "message", "count", "probability", "id")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    method: str
    latency_ms: float
    code: str
    message: str
    count: int
    probability: float
    id: str
    def __init__(self, method: _Optional[str] = ..., latency_ms: _Optional[float] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., count: _Optional[int] = ..., probability: _Optional[float] = ..., id: _Optional[str] = ...) -> None: ...

class ClearFaultsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SetRemoteLatencyRequest(_message.Message):
    __slots__ = ("encrypt_ms", "decrypt_ms")
    ENCRYPT_MS_FIELD_NUMBER: _ClassVar[int]
    DECRYPT_MS_FIELD_NUMBER: _ClassVar[int]
    encrypt_ms: float
    decrypt_ms: float
    def __init__(self, encrypt_ms: _Optional[float] = ..., decrypt_ms: _Optional[float] = ...) -> None: ...

class ResetCountersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class KeyInfo(_message.Message):
    __slots__ = ("key_id", "created_unix", "current")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    created_unix: float
    current: bool
    def __init__(self, key_id: _Optional[str] = ..., created_unix: _Optional[float] = ..., current: _Optional[bool] = ...) -> None: ...

class CallCounter(_message.Message):
    __slots__ = ("method", "code", "count")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    method: str
    code: str
    count: int
    def __init__(self, method: _Optional[str] = ..., code: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class PluginState(_message.Message):
    __slots__ = ("api", "current_key_id", "keys", "retired_key_ids", "health", "outage", "faults", "counters", "remote_latency", "listen", "started_unix", "pid", "keyring_sync_paused", "annotations")
    API_FIELD_NUMBER: _ClassVar[int]
    CURRENT_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    RETIRED_KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    OUTAGE_FIELD_NUMBER: _ClassVar[int]
    FAULTS_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    REMOTE_LATENCY_FIELD_NUMBER: _ClassVar[int]
    LISTEN_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    KEYRING_SYNC_PAUSED_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    api: str
    current_key_id: str
    keys: _containers.RepeatedCompositeFieldContainer[KeyInfo]
    retired_key_ids: _containers.RepeatedScalarFieldContainer[str]
    health: SetHealthRequest
    outage: OutageMode
    faults: _containers.RepeatedCompositeFieldContainer[Fault]
    counters: _containers.RepeatedCompositeFieldContainer[CallCounter]
    remote_latency: SetRemoteLatencyRequest
    listen: str
    started_unix: float
    pid: int
    keyring_sync_paused: bool
    annotations: SetAnnotationsRequest
    def __init__(self, api: _Optional[str] = ..., current_key_id: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[KeyInfo, _Mapping]]] = ..., retired_key_ids: _Optional[_Iterable[str]] = ..., health: _Optional[_Union[SetHealthRequest, _Mapping]] = ..., outage: _Optional[_Union[OutageMode, str]] = ..., faults: _Optional[_Iterable[_Union[Fault, _Mapping]]] = ..., counters: _Optional[_Iterable[_Union[CallCounter, _Mapping]]] = ..., remote_latency: _Optional[_Union[SetRemoteLatencyRequest, _Mapping]] = ..., listen: _Optional[str] = ..., started_unix: _Optional[float] = ..., pid: _Optional[int] = ..., keyring_sync_paused: _Optional[bool] = ..., annotations: _Optional[_Union[SetAnnotationsRequest, _Mapping]] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("replay", "follow")
    REPLAY_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    replay: int
    follow: bool
    def __init__(self, replay: _Optional[int] = ..., follow: _Optional[bool] = ...) -> None: ...

class PluginEvent(_message.Message):
    __slots__ = ("time_unix", "kind", "method", "uid", "key_id", "annotation_keys", "request_bytes", "response_bytes", "latency_ms", "code", "message", "seq", "detail", "current_key_id")
    TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_KEYS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_BYTES_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_BYTES_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    CURRENT_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    time_unix: float
    kind: str
    method: str
    uid: str
    key_id: str
    annotation_keys: _containers.RepeatedScalarFieldContainer[str]
    request_bytes: int
    response_bytes: int
    latency_ms: float
    code: str
    message: str
    seq: int
    detail: str
    current_key_id: str
    def __init__(self, time_unix: _Optional[float] = ..., kind: _Optional[str] = ..., method: _Optional[str] = ..., uid: _Optional[str] = ..., key_id: _Optional[str] = ..., annotation_keys: _Optional[_Iterable[str]] = ..., request_bytes: _Optional[int] = ..., response_bytes: _Optional[int] = ..., latency_ms: _Optional[float] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., seq: _Optional[int] = ..., detail: _Optional[str] = ..., current_key_id: _Optional[str] = ...) -> None: ...
