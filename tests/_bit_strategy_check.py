"""Run by tests/test_bit.py in a fresh process: fine-tune a small BiT on one device and under
MirroredStrategy on two logical CPUs, with the same global batches.

Prints a JSON line with the largest weight and loss differences between the two runs.
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from frontier import train  # noqa: E402

devices = train.logical_cpus(2)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from frontier import bit  # noqa: E402

rng = np.random.default_rng(0)
x = rng.uniform(size=(32, 16, 16, 3)).astype("float32")
y = (x[:, :8].mean(axis=(1, 2, 3)) > x[:, 8:].mean(axis=(1, 2, 3))).astype("int64")

results = {}
for name, strategy in [("one", tf.distribute.OneDeviceStrategy(devices[0])),
                       ("mirrored", tf.distribute.MirroredStrategy(devices))]:
    keras.utils.set_random_seed(0)  # tf.data's shuffle order depends on the global seed too
    data = bit.pipeline(tf.data.Dataset.from_tensor_slices((x, y)), crop=16, resize=18,
                        num_classes=2, batch_size=8, training=True, seed=3)
    with strategy.scope():
        model = bit.ResNetV2(units=(1, 1), base_width=8, groups=4, num_classes=2,
                             input_shape=(16, 16, 3))
    start = [w.numpy().copy() for w in model.weights]
    hist = bit.fine_tune(model, data, boundaries=(2, 4, 6, 8, 10), base_lr=0.05,
                         strategy=strategy, progress=False)
    moved = max(float(np.max(np.abs(w.numpy() - s)))
                for w, s in zip(model.weights, start, strict=True))
    results[name] = ([w.numpy() for w in model.weights], hist["loss"], moved)

one, mirrored = results["one"], results["mirrored"]
diff = max(float(np.max(np.abs(a - b))) for a, b in zip(one[0], mirrored[0], strict=True))
loss_diff = max(abs(a - b) for a, b in zip(one[1], mirrored[1], strict=True))
print(json.dumps({"max_weight_diff": diff, "max_loss_diff": loss_diff, "moved": one[2],
                  "replicas": strategy.num_replicas_in_sync, "steps": len(one[1]),
                  "losses": [one[1], mirrored[1]]}))
