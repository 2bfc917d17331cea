"""The part of ChirpStack v4's gRPC API the fleet uses, served by the simulated network server.

Same service, messages and status codes as ChirpStack (`chirpstack_api.api.DeviceService`), so the
fleet's real ChirpStack adapter runs unchanged against the emulator. Bound to 127.0.0.1 only.
"""

from __future__ import annotations

from concurrent import futures
from datetime import UTC

import grpc
from chirpstack_api import api
from google.protobuf import empty_pb2

from tools.emulator.network_server import NetworkServer, QueueItem

_HEX = set("0123456789abcdef")


def _eui(value: str, context: grpc.ServicerContext, what: str = "dev_eui") -> str:
    eui = value.lower()
    if len(eui) != 16 or not set(eui) <= _HEX:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{what} must be 16 hex digits, got {value!r}")
    return eui


def _key(value: str, context: grpc.ServicerContext, what: str) -> str:
    key = value.lower()
    if len(key) != 32 or not set(key) <= _HEX:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{what} must be 32 hex digits")
    return key


class DeviceService(api.DeviceServiceServicer):
    """DeviceService: Create/Update/Get/Delete, CreateKeys/UpdateKeys/GetKeys, Enqueue/GetQueue/FlushQueue."""

    def __init__(self, ns: NetworkServer, api_token: str | None = None):
        self.ns = ns
        self.api_token = api_token

    def _auth(self, context: grpc.ServicerContext) -> None:
        if not self.api_token:
            return
        meta = dict(context.invocation_metadata())
        if meta.get("authorization") != f"Bearer {self.api_token}":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "authorization: Bearer <api token> required")

    def _device(self, dev_eui: str, context: grpc.ServicerContext):
        dev = self.ns.get(_eui(dev_eui, context))
        if dev is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Object does not exist (id: {dev_eui})")
        return dev

    def Create(self, request, context):  # noqa: N802 (gRPC method names)
        self._auth(context)
        existing = self.ns.get(_eui(request.device.dev_eui, context))
        if existing is not None and existing.created_by_api:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"Object already exists (id: {existing.dev_eui})")
        self._store(request.device, context)
        return empty_pb2.Empty()

    def Update(self, request, context):  # noqa: N802
        self._auth(context)
        self._device(request.device.dev_eui, context)
        self._store(request.device, context)
        return empty_pb2.Empty()

    def _store(self, d: api.Device, context: grpc.ServicerContext) -> None:
        if not d.name:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "device.name is required")
        self.ns.register(
            _eui(d.dev_eui, context),
            name=d.name,
            join_eui=_eui(d.join_eui, context, "join_eui") if d.join_eui else None,
            description=d.description,
            application_id=d.application_id or self.ns.application_id,
            device_profile_id=d.device_profile_id or self.ns.device_profile_id,
            tags=dict(d.tags),
            variables=dict(d.variables),
            skip_fcnt_check=d.skip_fcnt_check,
            is_disabled=d.is_disabled,
            created_by_api=True,
        )

    def Get(self, request, context):  # noqa: N802
        self._auth(context)
        dev = self._device(request.dev_eui, context)
        out = api.GetDeviceResponse()
        d = out.device
        d.dev_eui, d.name, d.description = dev.dev_eui, dev.name, dev.description
        d.application_id, d.device_profile_id, d.join_eui = (
            dev.application_id,
            dev.device_profile_id,
            dev.join_eui,
        )
        d.skip_fcnt_check, d.is_disabled = dev.skip_fcnt_check, dev.is_disabled
        d.tags.update(dev.tags)
        d.variables.update(dev.variables)
        return out

    def Delete(self, request, context):  # noqa: N802
        self._auth(context)
        dev = self._device(request.dev_eui, context)
        with self.ns._lock:
            self.ns.devices.pop(dev.dev_eui, None)
        return empty_pb2.Empty()

    def CreateKeys(self, request, context):  # noqa: N802
        self._auth(context)
        dev = self._device(request.device_keys.dev_eui, context)
        if dev.keys_by_api:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"Object already exists (id: {dev.dev_eui})")
        self._store_keys(dev.dev_eui, request.device_keys, context)
        return empty_pb2.Empty()

    def UpdateKeys(self, request, context):  # noqa: N802
        self._auth(context)
        dev = self._device(request.device_keys.dev_eui, context)
        self._store_keys(dev.dev_eui, request.device_keys, context)
        return empty_pb2.Empty()

    def _store_keys(self, dev_eui: str, keys: api.DeviceKeys, context: grpc.ServicerContext) -> None:
        # LoRaWAN 1.0.x: ChirpStack takes the AppKey in nwk_key (app_key is the 1.1 application key)
        root = keys.nwk_key or keys.app_key
        if not root:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "device_keys.nwk_key is required")
        self.ns.register(dev_eui, app_key=_key(root, context, "device_keys.nwk_key"), keys_by_api=True)

    def GetKeys(self, request, context):  # noqa: N802
        self._auth(context)
        dev = self._device(request.dev_eui, context)
        if not dev.app_key:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Object does not exist (id: {dev.dev_eui})")
        out = api.GetDeviceKeysResponse()
        out.device_keys.dev_eui = dev.dev_eui
        out.device_keys.nwk_key = dev.app_key
        out.device_keys.app_key = "00" * 16
        return out

    def Enqueue(self, request, context):  # noqa: N802
        self._auth(context)
        qi = request.queue_item
        dev = self._device(qi.dev_eui, context)
        if not qi.data:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "queue_item.data is empty (object payloads need a codec)"
            )
        if not 1 <= qi.f_port <= 223:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"queue_item.f_port must be 1..223, got {qi.f_port}"
            )
        expires = qi.expires_at.ToDatetime(tzinfo=UTC) if qi.HasField("expires_at") else None
        item = self.ns.enqueue(
            dev.dev_eui, f_port=qi.f_port, data=qi.data, confirmed=qi.confirmed, expires_at=expires
        )
        return api.EnqueueDeviceQueueItemResponse(id=item.id)

    def GetQueue(self, request, context):  # noqa: N802
        self._auth(context)
        dev = self._device(request.dev_eui, context)
        items = self.ns.queue(dev.dev_eui)
        out = api.GetDeviceQueueItemsResponse(total_count=len(items))
        for item in items:
            _fill_item(out.result.add(), dev.dev_eui, item)
        return out

    def FlushQueue(self, request, context):  # noqa: N802
        self._auth(context)
        dev = self._device(request.dev_eui, context)
        self.ns.flush(dev.dev_eui)
        return empty_pb2.Empty()


def _fill_item(msg: api.DeviceQueueItem, dev_eui: str, item: QueueItem) -> None:
    msg.id, msg.dev_eui, msg.confirmed, msg.f_port, msg.data = (
        item.id,
        dev_eui,
        item.confirmed,
        item.f_port,
        item.data,
    )
    msg.is_pending = item.is_pending
    if item.f_cnt_down is not None:
        msg.f_cnt_down = item.f_cnt_down
    if item.expires_at is not None:
        msg.expires_at.FromDatetime(item.expires_at)


class GrpcApi:
    """A grpcio server on 127.0.0.1 (port 0 picks a free one) serving DeviceService."""

    def __init__(self, ns: NetworkServer, *, api_token: str | None = None, port: int = 0):
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        api.add_DeviceServiceServicer_to_server(DeviceService(ns, api_token), self.server)
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        self.target = f"127.0.0.1:{self.port}"

    def start(self) -> GrpcApi:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop(grace=0.5).wait()  # harmless when never started
