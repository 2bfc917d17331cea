"""The simulated ChirpStack gRPC API, called through the real chirpstack_api stubs over loopback."""

import grpc
import pytest
from chirpstack_api import api

from fleet.lns import chirpstack  # the project's own module: an import error must fail, not skip
from tools.emulator.chirpstack_grpc import GrpcApi
from tools.emulator.network_server import MemorySink, NetworkServer

EUI = "70b3d57ed0050101"
AUTH = [("authorization", "Bearer api-token")]


@pytest.fixture()
def served():
    ns = NetworkServer(MemorySink())
    server = GrpcApi(ns, api_token="api-token").start()
    channel = grpc.insecure_channel(server.target)
    yield ns, api.DeviceServiceStub(channel), server.target
    channel.close()
    server.stop()


def create(stub, eui=EUI, metadata=AUTH):
    stub.Create(
        api.CreateDeviceRequest(
            device=api.Device(
                dev_eui=eui,
                name="ehrenfeld-001",
                application_id="app-1",
                device_profile_id="prof-1",
                variables={"bin_height_cm": "110"},
            )
        ),
        metadata=metadata,
    )


def test_create_keys_enqueue_queue_flush(served):
    ns, stub, _ = served
    create(stub)
    stub.CreateKeys(
        api.CreateDeviceKeysRequest(
            device_keys=api.DeviceKeys(dev_eui=EUI, nwk_key="00112233445566778899AABBCCDDEEFF")
        ),
        metadata=AUTH,
    )
    dev = ns.get(EUI)
    assert dev.name == "ehrenfeld-001" and dev.app_key == "00112233445566778899aabbccddeeff"
    got = stub.Get(api.GetDeviceRequest(dev_eui=EUI), metadata=AUTH)
    assert got.device.variables["bin_height_cm"] == "110" and got.device.application_id == "app-1"
    resp = stub.Enqueue(
        api.EnqueueDeviceQueueItemRequest(
            queue_item=api.DeviceQueueItem(dev_eui=EUI, f_port=10, data=b"\x20\x00\x04", confirmed=False)
        ),
        metadata=AUTH,
    )
    queue = stub.GetQueue(api.GetDeviceQueueItemsRequest(dev_eui=EUI), metadata=AUTH)
    assert queue.total_count == 1 and queue.result[0].id == resp.id and queue.result[0].f_port == 10
    stub.FlushQueue(api.FlushDeviceQueueRequest(dev_eui=EUI), metadata=AUTH)
    assert stub.GetQueue(api.GetDeviceQueueItemsRequest(dev_eui=EUI), metadata=AUTH).total_count == 0


def test_errors_use_chirpstack_status_codes(served):
    _, stub, _ = served
    with pytest.raises(grpc.RpcError) as e:
        create(stub, metadata=[("authorization", "Bearer wrong")])
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    create(stub)
    with pytest.raises(grpc.RpcError) as e:
        create(stub)
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.RpcError) as e:
        stub.Enqueue(
            api.EnqueueDeviceQueueItemRequest(
                queue_item=api.DeviceQueueItem(dev_eui="70b3d57ed00501ff", f_port=10, data=b"\x20")
            ),
            metadata=AUTH,
        )
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        stub.Enqueue(
            api.EnqueueDeviceQueueItemRequest(
                queue_item=api.DeviceQueueItem(dev_eui=EUI, f_port=0, data=b"\x20")
            ),
            metadata=AUTH,
        )
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "f_port" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        stub.Get(api.GetDeviceRequest(dev_eui="not-hex"), metadata=AUTH)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_fleet_adapter_registers_and_enqueues_through_the_simulator(served):
    """The fleet's own ChirpStack adapter (fleet/lns/chirpstack.py) against the simulated API, twice."""
    ns, _, target = served
    adapter = chirpstack.ChirpStackGrpc(
        target=target, api_token="api-token", application_id="app-1", device_profile_id="prof-1"
    )
    for _ in range(2):  # the second run meets ALREADY_EXISTS and updates, as against ChirpStack
        adapter.register_device(
            dev_eui="70B3D57ED0050101",
            join_eui="0000000000000000",
            app_key="00112233445566778899AABBCCDDEEFF",
            name="ehrenfeld-001",
        )
    queue_id = adapter.enqueue(dev_eui="70B3D57ED0050101", fport=10, payload=b"\x20\x00\x04")
    adapter.close()
    assert ns.get(EUI).app_key == "00112233445566778899aabbccddeeff"
    assert [q.id for q in ns.queue(EUI)] == [queue_id]
