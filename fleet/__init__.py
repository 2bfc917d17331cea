"""Kumpel fleet manager: ingest, health, configuration and provisioning for the LoRaWAN node fleet."""
