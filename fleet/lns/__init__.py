"""Network-server adapters: parse what ChirpStack / The Things Stack send, and send downlinks back."""
