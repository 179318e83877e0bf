"""A small, strategy-aware training loop with checkpoints that resume.

Keras' ``model.fit`` is fine for most of the course; lessons that need to see inside a step
(BiT's fine-tuning under ``tf.distribute``, custom losses, the step-20 accuracy the BiT post
quotes) use :class:`Trainer`:

    strategy = tf.distribute.get_strategy()          # or MirroredStrategy(...)
    with strategy.scope():
        model = make_model()
        optimizer = keras.optimizers.SGD(0.003, momentum=0.9)
    trainer = Trainer(model, optimizer, per_example_loss, strategy=strategy)
    history = trainer.fit(dataset, steps=500, checkpoint_dir="build/ckpt/bit")

The loss is averaged over the **global** batch (``tf.nn.compute_average_loss``), so one device
and N devices take the same step for the same global batch. With ``checkpoint_dir`` the model,
the optimizer, the step counter and the history are saved every ``checkpoint_every`` steps and
at the end; calling ``fit`` again after an interruption resumes where the last checkpoint left
off (the dataset is replayed from the start and the batches already seen are skipped, so give
shuffles a seed to resume on exactly the same batches).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import tensorflow as tf
from tqdm.auto import tqdm

LossFn = Callable[[Any, Any], tf.Tensor]


def logical_cpus(n: int) -> list[str]:
    """Split the CPU into ``n`` logical devices (to try ``MirroredStrategy`` on one machine).

    Must run before TensorFlow initialises its devices (before any op or model is created);
    returns the logical device names, e.g. ``["/device:CPU:0", "/device:CPU:1"]``.
    """
    if n < 1:
        raise ValueError(f"logical_cpus(n={n}): n must be at least 1")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError as err:
        existing = tf.config.list_logical_devices("CPU")
        if len(existing) == n:
            return [d.name for d in existing]
        raise RuntimeError(
            f"logical_cpus({n}) must be called before TensorFlow initialises (it already has "
            f"{len(existing)} CPU device(s)): call it first thing, in a fresh process"
        ) from err
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def _per_example(loss: tf.Tensor) -> tf.Tensor:
    """Reduce a loss to shape (batch,) by averaging any trailing axes."""
    loss = tf.convert_to_tensor(loss)
    if loss.shape.rank == 0:
        raise ValueError("loss_fn must return one loss per example, shape (batch,), not a "
                         "scalar: use reduction=None (Keras losses) or drop the final mean")
    if loss.shape.rank > 1:
        loss = tf.reduce_mean(loss, axis=list(range(1, loss.shape.rank)))
    return loss


class Trainer:
    """One model, one optimizer, one per-example loss; steps run under ``strategy``.

    ``model`` and ``optimizer`` must be created inside ``strategy.scope()`` when a strategy
    other than the default is used. ``loss_fn(y_true, y_pred)`` returns per-example losses of
    shape (batch,) (trailing axes are averaged). Batches are ``(x, y)`` tuples.
    """

    def __init__(self, model: Any, optimizer: Any, loss_fn: LossFn, *,
                 strategy: tf.distribute.Strategy | None = None, jit_compile: bool = False):
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.strategy = strategy or tf.distribute.get_strategy()
        replicas = self.strategy.num_replicas_in_sync
        if jit_compile and replicas > 1 and not tf.config.list_physical_devices("GPU"):
            raise ValueError(
                f"jit_compile=True with {type(self.strategy).__name__} over {replicas} CPU "
                "replicas is not supported by TensorFlow; use jit_compile=False")
        if not model.built:
            raise ValueError("build the model before making a Trainer (call it on a batch "
                             "or pass an Input shape) so its variables exist")
        variables = model.trainable_variables
        if not variables:
            raise ValueError("the model has no trainable variables: nothing to train")
        tf_var = getattr(variables[0], "value", variables[0])  # a Keras 3 variable wraps a tf one
        if replicas > 1 and not self.strategy.extended.variable_created_in_scope(tf_var):
            raise ValueError(
                f"the model's variables were not created under the {type(self.strategy).__name__}"
                "'s scope: create the model and optimizer inside `with strategy.scope():`")
        with self.strategy.scope():
            self.optimizer.build(variables)
            self.step_counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self._jit = jit_compile
        self._train_fn = tf.function(self._distributed_step)

    # -- one step ----------------------------------------------------------------------------
    def _replica_step(self, x: Any, y: Any) -> tf.Tensor:
        ctx = tf.distribute.get_replica_context()
        local = tf.shape(tf.nest.flatten(x)[0])[0]
        global_batch = ctx.all_reduce(tf.distribute.ReduceOp.SUM, local)
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            pred = self.model(x, training=True)
            per_example = _per_example(self.loss_fn(y, pred))
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            if self.model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(self.model.losses))
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss

    def _distributed_step(self, batch: Any) -> Any:
        x, y = batch[0], batch[1]
        step = (tf.function(self._replica_step, jit_compile=True) if self._jit
                else self._replica_step)
        per_replica = self.strategy.run(step, args=(x, y))
        self.step_counter.assign_add(1)
        return tf.nest.map_structure(
            lambda v: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None), per_replica)

    def _run_step(self, batch: Any) -> dict[str, float]:
        """One compiled step; a subclass's ``_replica_step`` may return ``{name: loss}``."""
        out = self._train_fn(batch)
        out = out if isinstance(out, dict) else {"loss": out}
        return {name: float(value) for name, value in out.items()}

    def checkpoint_objects(self) -> dict[str, Any]:
        """What a checkpoint holds; a subclass with more models or optimizers adds them."""
        return {"model": self.model, "optimizer": self.optimizer, "step": self.step_counter}

    def step(self, batch: Any) -> dict[str, float]:
        """Train on one batch (undistributed: it is split across replicas here)."""
        if self.strategy.num_replicas_in_sync > 1:
            batch = next(iter(self.strategy.experimental_distribute_dataset(
                tf.data.Dataset.from_tensors(tuple(batch)))))
        return self._run_step(batch)

    # -- a loop with checkpoints ---------------------------------------------------------------
    def fit(self, dataset: tf.data.Dataset, steps: int, *,
            checkpoint_dir: str | os.PathLike | None = None,
            checkpoint_every: int = 100, eval_fn: Callable[[Any], dict[str, float]] | None = None,
            eval_every: int | Iterable[int] | None = None, progress: bool = True,
            ) -> dict[str, list]:
        """Train for ``steps`` steps in total (counting steps done before a resume).

        ``dataset`` yields batches ``(x, y)`` of the global batch size; it is repeated if it
        runs out. ``eval_fn(model) -> {name: value}`` runs at the steps in ``eval_every``
        (an interval or a list of step numbers) and at the end; its values join the history.
        Returns the history: ``{"step": [...], "loss": [...], "eval_step": [...], <eval
        names>: [...]}``.
        """
        if steps < 1:
            raise ValueError(f"fit(steps={steps}): steps must be at least 1")
        history: dict[str, list] = {"step": [], "loss": [], "eval_step": []}
        manager = None
        if checkpoint_dir is not None:
            checkpoint_dir = Path(checkpoint_dir)
            objects = self.checkpoint_objects()
            ckpt = tf.train.Checkpoint(**objects)
            manager = tf.train.CheckpointManager(ckpt, str(checkpoint_dir), max_to_keep=2)
            shapes = _variable_shapes(objects)
            if manager.latest_checkpoint:
                _check_architecture(checkpoint_dir, shapes)
                ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
                saved = checkpoint_dir / "history.json"
                if saved.exists():
                    history = json.loads(saved.read_text())
        start = int(self.step_counter.numpy())
        if start >= steps:
            return history
        data = dataset.repeat().skip(start) if start else dataset.repeat()
        if self.strategy.num_replicas_in_sync > 1:
            data = self.strategy.experimental_distribute_dataset(data)
        if isinstance(eval_every, int):
            eval_steps = set(range(eval_every, steps + 1, eval_every))
        else:
            eval_steps = set(eval_every or ())
        eval_steps.add(steps)

        def save() -> None:
            if manager is not None:
                manager.save(checkpoint_number=self.step_counter)
                _write_json_atomic(Path(checkpoint_dir) / ARCHITECTURE_FILE, shapes)
                _write_json_atomic(Path(checkpoint_dir) / "history.json", history)

        bar = tqdm(total=steps, initial=start, disable=not progress, desc="train", leave=False)
        iterator = iter(data)
        for step in range(start + 1, steps + 1):
            losses = self._run_step(next(iterator))
            history["step"].append(step)
            for name, value in losses.items():
                history.setdefault(name, []).append(value)
            bar.update(1)
            bar.set_postfix({name: f"{value:.4g}" for name, value in losses.items()})
            if eval_fn is not None and step in eval_steps:
                history["eval_step"].append(step)
                for name, value in eval_fn(self.model).items():
                    history.setdefault(name, []).append(float(value))
            if manager is not None and (step % checkpoint_every == 0 or step == steps):
                save()
        bar.close()
        return history


#: Beside the checkpoints: each checkpointed model's weight paths and shapes, in order.
ARCHITECTURE_FILE = "architecture.json"


def _variable_shapes(objects: dict[str, Any]) -> dict[str, list[list]]:
    """``{object name: [[weight path, shape], ...]}`` for the Keras models among ``objects``."""
    return {name: [[w.path, list(w.shape)] for w in obj.weights]
            for name, obj in objects.items() if hasattr(obj, "weights") and hasattr(obj, "layers")}


def _check_architecture(checkpoint_dir: Path, shapes: dict[str, list[list]]) -> None:
    """Raise ValueError naming the first difference when ``checkpoint_dir`` holds checkpoints
    of models shaped differently from ``shapes`` (a checkpoint of another architecture)."""
    saved_file = checkpoint_dir / ARCHITECTURE_FILE
    if not saved_file.exists():
        return
    saved = json.loads(saved_file.read_text())
    fix = (f"use a new checkpoint_dir, or delete {checkpoint_dir} to start again, or build the "
           "model with the sizes the checkpoint was trained with")
    for name in sorted(set(saved) & set(shapes)):
        ours, theirs = shapes[name], saved[name]
        for i, ((path_a, shape_a), (path_b, shape_b)) in enumerate(zip(theirs, ours,
                                                                       strict=False)):
            if shape_a != shape_b:
                raise ValueError(
                    f"the checkpoint in {checkpoint_dir} was written by another architecture: "
                    f"{name} weight {i} ({path_a}) has shape {tuple(shape_a)} there but "
                    f"{tuple(shape_b)} here ({path_b}); {fix}")
        if len(theirs) != len(ours):
            raise ValueError(
                f"the checkpoint in {checkpoint_dir} was written by another architecture: "
                f"{name} has {len(theirs)} weight tensors there but {len(ours)} here; {fix}")
    for name in sorted(set(saved) ^ set(shapes)):
        where = "only the checkpoint" if name in saved else "only this trainer"
        raise ValueError(f"the checkpoint in {checkpoint_dir} holds other models: {where} has "
                         f"a model {name!r}; {fix}")


def _write_json_atomic(path: Path, value: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)
