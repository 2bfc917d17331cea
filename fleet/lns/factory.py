"""Build the configured network-server adapter (KUMPEL_LNS)."""

from fleet.lns.base import NetworkServer
from fleet.settings import Settings


def make_adapter(cfg: Settings) -> NetworkServer:
    if cfg.lns == "chirpstack-grpc":
        from fleet.lns.chirpstack import ChirpStackGrpc

        return ChirpStackGrpc(
            target=cfg.chirpstack_grpc,
            api_token=cfg.chirpstack_api_token,
            application_id=cfg.chirpstack_application_id,
            device_profile_id=cfg.chirpstack_device_profile_id,
            tls=cfg.chirpstack_grpc_tls,
        )
    if cfg.lns == "chirpstack-mqtt":
        from fleet.lns.mqtt import ChirpStackMqtt

        return ChirpStackMqtt(
            host=cfg.mqtt_host,
            port=cfg.mqtt_port,
            application_id=cfg.chirpstack_application_id,
            username=cfg.mqtt_username,
            password=cfg.mqtt_password,
        )
    if cfg.lns == "ttn":
        from fleet.lns.ttn import TtsWebhook

        return TtsWebhook(
            url=cfg.tts_url,
            application_id=cfg.tts_application_id,
            webhook_id=cfg.tts_webhook_id,
            api_key=cfg.tts_api_key,
        )
    return NetworkServer()
