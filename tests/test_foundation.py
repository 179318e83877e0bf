"""Profiles, recorded results, the environment guard and the training loop."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import frontier
from frontier import environment, profiles, report

ROOT = Path(__file__).resolve().parents[1]


# -- profiles ------------------------------------------------------------------------------
def test_unknown_profile_lists_valid_names():
    with pytest.raises(ValueError) as err:
        frontier.profile("fast")
    for name in ("smoke", "quick", "full"):
        assert name in str(err.value)
    assert "'fast'" in str(err.value)


def test_registered_sizes_per_profile():
    profiles.register("toy_lesson", smoke=dict(steps=2, width=4), quick=dict(steps=200, width=16),
                      full=dict(steps=20_000, width=64))
    quick = frontier.profile("quick", "toy_lesson")
    assert quick.name == "quick" and quick.steps == 200 and quick["width"] == 16
    assert frontier.profile("smoke").toy_lesson.steps == 2
    assert frontier.profile().toy_lesson.steps == 200, "quick is the default"
    assert quick.replace(steps=5).steps == 5 and quick.steps == 200
    with pytest.raises(KeyError, match="widht"):
        quick.replace(widht=3)
    with pytest.raises(AttributeError, match="has no size 'depth'"):
        _ = quick.depth


def test_register_requires_same_keys_in_every_profile():
    with pytest.raises(ValueError, match="same keys"):
        profiles.register("bad", smoke=dict(a=1), quick=dict(a=1, b=2), full=dict(a=1, b=2))


def test_unknown_lesson_is_named():
    with pytest.raises(KeyError, match="no_such_lesson"):
        frontier.profile("quick", "no_such_lesson")


def test_every_registered_name_resolves_from_a_fresh_interpreter():
    """A notebook's first call may be profile(PROFILE, "galaxy_al"): no earlier import helps."""
    names = profiles.registering_modules()
    assert {"bit", "galaxy", "galaxy_al", "quantum"} <= set(names), names
    procs = {name: subprocess.Popen(
        [sys.executable, "-c", "import sys, frontier\n"
         f"sizes = frontier.profile('quick', {name!r})\n"
         "assert sizes.lesson == sys.argv[1] and len(sizes) > 0, sizes"
         , name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name in names}
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"profile('quick', {name!r}) failed:\n{out[-2000:]}"


def test_registering_modules_reads_only_register_calls():
    from frontier.profiles import _is_register

    calls = [ast.parse(src, mode="eval").body for src in
             ('register("a", smoke={}, quick={}, full={})', 'profiles.register("b")',
              'get_ipython().events.register("post_run_cell", f)')]
    assert [_is_register(c.func) for c in calls] == [True, True, False]


# -- recorded results -----------------------------------------------------------------------
def test_record_converts_numpy_and_rejects_objects():
    import numpy as np

    assert report.record("curve", {"k": np.arange(3), "acc": np.float32(0.5),
                                   "nan": float("nan")}) is None
    assert report.recorded()["curve"] == {"k": [0, 1, 2], "acc": 0.5, "nan": None}
    with pytest.raises(TypeError, match="cannot record"):
        report.record("bad", object())
    with pytest.raises(ValueError, match="identifier"):
        report.record("not a name", 1)


def test_record_and_read_through_an_executed_notebook(tmp_path):
    import papermill

    nb = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nb.cells = [
        nbformat.v4.new_code_cell("X = 2", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import frontier.report as r\nr.record('answer', X * 21)\n"
                                  "r.record('curve', {'k': [1, 5], 'acc': [0.5, 0.75]})\n"
                                  "print('answer = 0')  # printed text is never read"),
        nbformat.v4.new_code_cell("r.record('answer', X * 21 + 1)"),
    ]
    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    papermill.execute_notebook(str(src), str(out), parameters={"X": 3}, kernel_name="python3",
                               progress_bar=False)
    assert report.read(out) == {"answer": 64, "curve": {"k": [1, 5], "acc": [0.5, 0.75]}}
    with pytest.raises(FileNotFoundError, match="run it first"):
        report.read(tmp_path / "missing.ipynb")


def test_record_appends_to_results_file(tmp_path, monkeypatch):
    target = tmp_path / "results.jsonl"
    monkeypatch.setenv("FRONTIER_RESULTS", str(target))
    report.record("a", 1)
    report.record("b", [1.5])
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    assert lines == [{"name": "a", "value": 1}, {"name": "b", "value": [1.5]}]


# -- environment --------------------------------------------------------------------------
def pinned_requirements() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)$", line.strip())
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def test_version_guard_matches_requirements():
    pins = pinned_requirements()
    for package, version in environment.PINNED.items():
        assert pins[package] == version, f"environment.PINNED[{package}] != requirements.txt"


def test_requirements_pins_are_exact_and_installed():
    from importlib.metadata import version

    pins = pinned_requirements()
    for must in ("tensorflow", "keras", "tensorflow-datasets", "importlib_resources",
                 "tensorflow-hub", "einops", "papermill", "nbval", "jupyterlab", "ipykernel",
                 "scikit-learn", "scikit-image", "opencv-python-headless", "ai-edge-litert",
                 "tflite-micro", "cirq-core", "tqdm", "matplotlib"):
        assert must.lower() in pins, f"{must} is not pinned in requirements.txt"
    assert pins["tensorflow"].startswith("2.21.") and pins["keras"].startswith("3.")
    assert "dev" in pins["tflite-micro"], "tflite-micro exists only as exact pre-releases"
    for package, want in pins.items():
        assert version(package) == want, f"installed {package} differs from requirements.txt"


def _pip_file(path: Path) -> tuple[list[str], list[Path]]:
    """A pip requirements file's requirement lines (following -r) and its -c files."""
    reqs, constraints = [], []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            more, cons = _pip_file((path.parent / line[3:].strip()).resolve())
            reqs += more
            constraints += cons
        elif line.startswith("-c "):
            constraints.append((path.parent / line[3:].strip()).resolve())
        elif line:
            reqs.append(line)
    return reqs, constraints


def test_binder_installs_the_same_frozen_set_as_make_install():
    """Binder gets requirements.txt under constraints.txt, as `make install` does, so no
    transitive dependency floats (pip resolves -r/-c paths relative to the file)."""
    reqs, constraints = _pip_file(ROOT / "binder" / "requirements.txt")
    assert reqs == _pip_file(ROOT / "requirements.txt")[0]
    assert constraints == [(ROOT / "constraints.txt").resolve()]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"pip install .*-r requirements-dev\.txt -c constraints\.txt", makefile)
    dev_reqs, _ = _pip_file(ROOT / "requirements-dev.txt")
    assert set(reqs) <= set(dev_reqs), "make install must install every Binder requirement"
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    assert "pip install" in (ROOT / "binder" / "postBuild").read_text()


def test_version_guard_warns_on_mismatch():
    with pytest.warns(UserWarning, match=r"tensorflow 2\.21\.0 is installed .*tensorflow==9\.9\.9"):
        assert environment.check_environment({"tensorflow": "9.9.9"}) is False
    assert environment.check_environment() is True


# -- training loop ------------------------------------------------------------------------
def test_mirrored_strategy_matches_one_device():
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "_train_strategy_check.py")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["last_loss"] < result["first_loss"], "the model did not train"
    assert result["max_weight_diff"] < 1e-5 and result["max_loss_diff"] < 1e-5


def _toy(seed=0):
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(1)])
    tf.random.set_seed(123)  # the data pipeline is the same whatever the model's seed
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], "float32"))[:, None]
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(96, seed=1).batch(16)
    return model, ds


def _mse(y, p):
    import tensorflow as tf

    return tf.reduce_mean(tf.square(y - p), axis=-1)


def test_interrupted_training_resumes_from_checkpoint(tmp_path):
    import keras
    import numpy as np

    from frontier import train

    model, ds = _toy()
    straight = train.Trainer(model, keras.optimizers.Adam(0.01), _mse)
    full = straight.fit(ds, steps=30, progress=False)
    reference = [w.numpy() for w in model.weights]

    model, ds = _toy()
    first = train.Trainer(model, keras.optimizers.Adam(0.01), _mse)
    first.fit(ds, steps=20, checkpoint_dir=tmp_path, checkpoint_every=10, progress=False)
    # "interrupt": a new process would build everything again from scratch
    model, ds = _toy(seed=5)
    resumed = train.Trainer(model, keras.optimizers.Adam(0.01), _mse)
    history = resumed.fit(ds, steps=30, checkpoint_dir=tmp_path, checkpoint_every=10,
                          progress=False)
    assert history["step"] == list(range(1, 31))
    np.testing.assert_allclose(history["loss"], full["loss"], rtol=1e-5, atol=1e-6)
    for a, b in zip(reference, [w.numpy() for w in model.weights], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fit_evaluates_at_requested_steps():
    import keras

    from frontier import train

    model, ds = _toy()
    trainer = train.Trainer(model, keras.optimizers.SGD(0.05), _mse)
    calls = []

    def evaluate(m):
        calls.append(int(trainer.step_counter.numpy()))
        return {"val": float(len(calls))}

    history = trainer.fit(ds, steps=12, eval_fn=evaluate, eval_every=[5], progress=False)
    assert calls == [5, 12] and history["eval_step"] == [5, 12] and history["val"] == [1.0, 2.0]
    assert history["loss"][-1] < history["loss"][0]


def test_trainer_rejects_scalar_loss_and_unbuilt_models():
    import keras
    import tensorflow as tf

    from frontier import train

    model, ds = _toy()
    trainer = train.Trainer(model, keras.optimizers.SGD(0.05), lambda y, p: tf.reduce_mean(y - p))
    with pytest.raises(ValueError, match="one loss per example"):
        trainer.fit(ds, steps=1, progress=False)
    with pytest.raises(ValueError, match="build the model"):
        train.Trainer(keras.Sequential([keras.layers.Dense(1)]), keras.optimizers.SGD(), _mse)
