"""A bin node set up for large batches and fed readings that cannot compress (the batch-splitting tests)."""

from protocols import codec


def large_batches(node, batch_size):
    """First boot, then a config for batch_size readings per batch in a 10 m bin, applied and settled."""
    node.run(1)
    settings = {"batch_size": batch_size, "bin_height_cm": 1000, "full_threshold_pct": 100}
    node.queue_downlink(codec.PORT_CONFIG, codec.encode_config({"config_version": 2, "settings": settings}))
    node.edit(env={**node.world["env"], "temperature_c": 70.0})
    node.run(1)
    node.edit(env={**node.world["env"], "temperature_c": 20.0})
    node.run(1)  # the new bin height moves the fill 60 points: that reading goes out early (issue 11)


def noisy_readings(node, count):
    """count wakes of a noisy bin: every reading differs, so the batch cannot compress."""
    for i in range(count):
        env = {  # the fill stays within 19 points: a 20-point move would send the batch early (issue 11)
            "distance_cm": 25 + (i * 97) % 190,
            "temperature_c": (i * 13) % 50 - 10 + 0.1 * i,
            "humidity_pct": (i * 41) % 100,
        }
        node.edit(env={**node.world["env"], **env})
        node.run(1)
