"""Run by tests/test_train.py in a fresh process: one device vs MirroredStrategy on 2 CPUs.

Prints a JSON line with the largest weight difference between the two runs.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from frontier import train  # noqa: E402

devices = train.logical_cpus(2)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

jit = len(sys.argv) > 1 and sys.argv[1] == "jit"


def make_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3)])
    return model, keras.optimizers.SGD(0.1, momentum=0.9)


def per_example(y, logits):
    return keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)


rng = np.random.default_rng(0)
x = rng.normal(size=(64, 6)).astype("float32")
y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5).astype("int32")
data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)

results = {}
for name, strategy in [("one", tf.distribute.OneDeviceStrategy(devices[0])),
                       ("mirrored", tf.distribute.MirroredStrategy(devices))]:
    with strategy.scope():
        model, opt = make_model()
    trainer = train.Trainer(model, opt, per_example, strategy=strategy,
                            jit_compile=jit and name == "one")
    hist = trainer.fit(data, steps=12, progress=False)
    trainer.step((x[:16], y[:16]))
    results[name] = ([w.numpy() for w in model.weights], hist["loss"])

one, mirrored = results["one"], results["mirrored"]
diff = max(float(np.max(np.abs(a - b))) for a, b in zip(one[0], mirrored[0], strict=True))
loss_diff = max(abs(a - b) for a, b in zip(one[1], mirrored[1], strict=True))
moved = max(float(np.max(np.abs(w))) for w in results["one"][0])
print(json.dumps({"max_weight_diff": diff, "max_loss_diff": loss_diff,
                  "replicas": strategy.num_replicas_in_sync, "max_abs_weight": moved,
                  "first_loss": results["one"][1][0], "last_loss": results["one"][1][-1]}))
