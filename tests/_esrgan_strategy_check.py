"""Run by tests/test_esrgan.py in a fresh process: ESRGAN's phases on one device vs a
MirroredStrategy over 2 logical CPUs, same global batches. Prints the largest weight
differences as a JSON line."""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from frontier import esrgan, train  # noqa: E402

devices = train.logical_cpus(2)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

rng = np.random.default_rng(0)
hr = rng.uniform(0, 1, (16, 16, 16, 3)).astype("float32")
lr = esrgan.downscale(hr).numpy()
data = tf.data.Dataset.from_tensor_slices((lr, hr)).batch(4)  # the same batches for both


def run(strategy):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        g = esrgan.generator(1, 8, 8)
        d = esrgan.discriminator(16, 4)
        features = esrgan.stand_in_extractor(width=8)
    p1 = esrgan.phase1(g, steps=3, strategy=strategy).fit(data, 3, progress=False)
    p2 = esrgan.phase2(g, d, features, steps=3, strategy=strategy).fit(data, 3, progress=False)
    return [w.numpy() for w in g.weights + d.weights], p1["loss"] + p2["loss"] + p2["d_loss"]


one = run(tf.distribute.OneDeviceStrategy(devices[0]))
mirrored = run(tf.distribute.MirroredStrategy(devices))
print(json.dumps({
    "max_weight_diff": max(float(np.max(np.abs(a - b)))
                           for a, b in zip(one[0], mirrored[0], strict=True)),
    "max_loss_diff": max(abs(a - b) for a, b in zip(one[1], mirrored[1], strict=True)),
    "weights_moved": float(np.max(np.abs(one[0][0]))),
}))
