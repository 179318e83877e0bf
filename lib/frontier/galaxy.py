"""Bayesian CNNs for Galaxy Zoo votes (lessons 02 and 03; Walmsley et al. 2020).

Labels are votes: k of N volunteers answered "bar". The network predicts rho, the probability
that a volunteer says "bar", and is trained with the binomial likelihood of the votes, so a
galaxy seen by 40 volunteers counts more than one seen by 4. Dropout stays on at prediction
time (MC dropout, Gal & Ghahramani 2016): T forward passes give T values of rho, each a
Binomial(N, rho_t) over k, and their mixture is the posterior predictive. BALD (Houlsby et al.
2011) scores how much the T models disagree, the acquisition function of active learning.
"""

from __future__ import annotations

import weakref
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from scipy.special import gammaln

from frontier.profiles import register

AL_SIZES = register(
    "galaxy_al",
    # lesson 03: n_galaxies = pool (80%) + test (20%); quick trains 32-pixel galaxies, warm-started,
    # and labels 100 + 8 x 100 of the 3,200 in the pool
    smoke=dict(n_galaxies=150, image_size=16, start=20, batch=20, rounds=2, steps=10, seeds=1,
               mc_samples=5, width=4),
    quick=dict(n_galaxies=4000, image_size=32, start=100, batch=100, rounds=8, steps=250,
               seeds=3, mc_samples=20, width=16),
    full=dict(n_galaxies=25000, image_size=64, start=256, batch=128, rounds=10, steps=2000,
              seeds=3, mc_samples=30, width=32),
)

SIZES = register(
    "galaxy",
    # quick halves the reference width (32) to fit a laptop CPU; full is the reference network
    smoke=dict(n_galaxies=300, image_size=32, epochs=1, mc_samples=5, width=4, batch_size=64),
    quick=dict(n_galaxies=4000, image_size=64, epochs=10, mc_samples=30, width=16,
               batch_size=128),
    full=dict(n_galaxies=20000, image_size=64, epochs=50, mc_samples=30, width=32, batch_size=256),
)


def lesson_data(P: Any, seed: int = 0) -> tuple[dict[str, np.ndarray], int]:
    """The galaxies for profile sizes ``P`` and the index where the test set starts (the last
    20%). ``smoke`` and ``quick``: simulated galaxies with their true ``rho``. ``full``: real
    Galaxy Zoo 2 galaxies and their bar votes (:func:`frontier.data.gz2.load_gz2`: at least 10
    bar answers, or any number for active learning; downloads about 3.4 GB once; no ``rho``,
    no true parameters)."""
    if P.name == "full":
        from frontier.data.gz2 import load_gz2

        # active learning keeps galaxies nobody was asked about (N = 0): a real pool has them
        min_volunteers = 0 if P.lesson == "galaxy_al" else 10
        data = load_gz2(P.n_galaxies, P.image_size, seed=seed, min_volunteers=min_volunteers)
    else:
        from frontier.data.synthetic import galaxies

        data = galaxies(P.n_galaxies, seed=seed, size=P.image_size)
    return data, int(0.8 * P.n_galaxies)


def vote_fraction(votes: np.ndarray, n_volunteers: np.ndarray) -> np.ndarray:
    """k / N, the share of the volunteers asked about a bar who said "bar": float (galaxies,).
    NaN where nobody was asked (N = 0: a galaxy every volunteer called smooth): there the
    fraction is undefined, not 0. NaN sorts last in ``np.argsort``."""
    votes, n_volunteers = np.asarray(votes, np.float64), np.asarray(n_volunteers)
    return np.divide(votes, n_volunteers, out=np.full(votes.shape, np.nan),
                     where=n_volunteers > 0)


EPS = 1e-7


# -- the likelihood ------------------------------------------------------------------------------
def binomial_nll(k: Any, n: Any, rho: Any) -> tf.Tensor:
    """-[k log rho + (n - k) log(1 - rho)], elementwise (the constant log C(n, k) is dropped).

    ``rho`` is clipped to [1e-7, 1 - 1e-7], so the loss stays finite at 0 and 1.
    """
    rho = tf.clip_by_value(tf.cast(rho, tf.float32), EPS, 1 - EPS)
    k, n = tf.cast(k, tf.float32), tf.cast(n, tf.float32)
    return -(k * tf.math.log(rho) + (n - k) * tf.math.log(1 - rho))


class BinomialLoss(keras.losses.Loss):
    """Keras loss on labels ``(batch, 2)`` = (k, N) and predictions rho ``(batch, 1)``.

    A network that answers m questions at once gives predictions ``(batch, m)`` and labels
    ``(batch, 2m)`` = (k_1, N_1, ..., k_m, N_m); the loss is the sum of the m binomial NLLs.
    """

    def __init__(self, name: str = "binomial_nll", **kwargs: Any):
        super().__init__(name=name, **kwargs)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        y_true = tf.cast(y_true, tf.float32)
        y_pred = tf.reshape(y_pred, [tf.shape(y_true)[0], -1])
        return tf.reduce_sum(binomial_nll(y_true[:, 0::2], y_true[:, 1::2], y_pred), axis=-1)


# -- the Bayesian CNN ---------------------------------------------------------------------------
class MCDropout(keras.layers.Dropout):
    """Dropout that stays on at inference: Monte Carlo dropout, one idea, one line."""

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        return super().call(inputs, training=True)


def bayesian_cnn(image_size: int = 64, bands: int = 1, width: int = 32,
                 dropout: float = 0.5, mc_layers: int = 2, predict_reach: bool = False,
                 seed: int = 0) -> keras.Model:
    """The reference network: conv 32/64/128 (3x3, ReLU, 2x2 max-pool), dense 128, MC dropout
    0.5, sigmoid rho. ``width`` scales the filters (32 = the reference). Input (batch, size,
    size, bands) in [0, 1]; output rho (batch, 1).

    ``mc_layers=1`` is the reference: MC dropout only before the output layer. Then the spread
    of the output logit grows with its size, so the most confident predictions get the widest
    posteriors, which misleads active learning (lesson 03). The default, 2, also drops the
    flattened features before the dense layer (Gal & Ghahramani 2016 put dropout before every
    weight layer).

    ``predict_reach=True`` adds a second output: the share of the volunteers shown the galaxy
    who reach the bar question (answer "featured", then "not edge-on"), so the network also
    predicts N, the number who will answer it (lesson 03). Output (batch, 2) = (rho, reach);
    train it on labels (k, N, N, shown_to) (:func:`train` with ``shown_to``)."""
    if mc_layers not in (1, 2):
        raise ValueError(f"mc_layers must be 1 or 2, not {mc_layers!r}")
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((image_size, image_size, bands))
    x = inputs
    for filters in (width, 2 * width, 4 * width):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    if mc_layers == 2:
        x = MCDropout(dropout)(x)
    x = keras.layers.Dense(4 * width, activation="relu")(x)
    x = MCDropout(dropout)(x)
    outputs = keras.layers.Dense(2 if predict_reach else 1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="bayesian_cnn")


def posterior_samples(model: keras.Model, images: np.ndarray, n_samples: int,
                      batch_size: int = 512, reuse_trunk: bool = True,
                      output: int | None = 0) -> np.ndarray:
    """rho from ``n_samples`` stochastic forward passes: (n_samples, batch). ``output`` picks
    the model's output column (0: rho; 1: reach, with ``predict_reach``); None keeps them all:
    (n_samples, batch, outputs).

    When the model's ``MCDropout`` layers all sit in a chain of layers at its end (as in
    ``bayesian_cnn``), everything before the first is deterministic: with ``reuse_trunk`` it
    runs once per image, and the small head runs on ``n_samples`` copies of its features in
    the same compiled call (each copy draws its own dropout masks). Same distribution, many
    times faster; ``reuse_trunk=False`` runs the whole model every time. The compiled sampler
    is built once per model and sample count and reused while the model lives, so the rounds
    of active learning, which train the same model further, do not retrace it."""
    sampler = _sampler(model, n_samples, reuse_trunk)
    samples = np.concatenate([sampler(tf.convert_to_tensor(images[i:i + batch_size])).numpy()
                              for i in range(0, len(images), batch_size)], axis=1)
    return samples if output is None else samples[..., output]


#: compiled samplers by model: an entry goes when its model does
_SAMPLERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _sampler(model: keras.Model, n_samples: int, reuse_trunk: bool) -> Any:
    """A tf.function: images (batch, h, w, bands) -> (n_samples, batch, outputs)."""
    cached = _SAMPLERS.setdefault(model, {})
    if (n_samples, reuse_trunk) in cached:
        return cached[n_samples, reuse_trunk]
    split = _split_at_mc_dropout(model) if reuse_trunk else None
    signature = [tf.TensorSpec([None, *model.inputs[0].shape[1:]], tf.float32)]
    if split is None:
        @tf.function(input_signature=signature)
        def sample(x: tf.Tensor) -> tf.Tensor:
            return tf.map_fn(lambda _: model(x, training=False), tf.range(n_samples),
                             fn_output_signature=tf.float32)
    else:
        trunk, head = split

        @tf.function(input_signature=signature)
        def sample(x: tf.Tensor) -> tf.Tensor:
            features = trunk(x, training=False)
            # copy t of the features is rows t * batch .. (t + 1) * batch - 1
            rho = head(tf.tile(features, [n_samples, 1]))
            return tf.reshape(rho, [n_samples, tf.shape(x)[0], -1])

    cached[n_samples, reuse_trunk] = sample
    return sample


def _split_at_mc_dropout(model: keras.Model) -> tuple[Any, Any] | None:
    """(trunk, head) split at the model's first MCDropout when it and every layer after it form
    a chain to the output; None otherwise (then every sample runs the whole model)."""
    drops = [layer for layer in model.layers if isinstance(layer, MCDropout)]
    if not drops or len(model.outputs) != 1:
        return None
    tail = model.layers[model.layers.index(drops[0]):]
    for before, after in zip(tail[:-1], tail[1:], strict=True):
        if after.input is not before.output:
            return None
    if tail[-1].output is not model.outputs[0]:
        return None
    trunk = keras.Model(model.inputs[0], drops[0].input)

    def head(x: tf.Tensor) -> tf.Tensor:
        for layer in tail:
            x = layer(x)
        return x

    return trunk, head


def _binomial_log_pmf(n: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """log Binomial(k | n, rho) for k = 0..max(n): (..., galaxies, max_n + 1); -inf beyond n."""
    n = np.asarray(n)
    k = np.arange(int(n.max()) + 1)
    rho = np.clip(rho, EPS, 1 - EPS)[..., None]
    log_coeff = gammaln(n[:, None] + 1) - gammaln(k + 1) - gammaln(np.maximum(n[:, None] - k, 0)
                                                                  + 1)
    logp = log_coeff + k * np.log(rho) + (n[:, None] - k) * np.log1p(-rho)
    return np.where(k <= n[:, None], logp, -np.inf)


def predictive_pmf(rho_samples: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The posterior predictive over k: the mixture over T samples of Binomial(k | N, rho_t).

    rho_samples (T, galaxies), n (galaxies,) -> (galaxies, max(n) + 1), rows sum to 1.
    """
    return np.exp(_binomial_log_pmf(n, rho_samples)).mean(axis=0)


def _entropy(p: np.ndarray) -> np.ndarray:
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0.0), axis=-1)


def expected_volunteers(reach_samples: np.ndarray, shown_to: np.ndarray) -> np.ndarray:
    """How many volunteers will answer the bar question, before anyone has (lesson 03): the
    mean over the samples of the predicted reach (T, galaxies), times the mean number of
    volunteers who saw each galaxy (``shown_to`` of the labelled galaxies), rounded: int64."""
    return np.round(np.mean(reach_samples, axis=0) * np.mean(shown_to)).astype(np.int64)


def bald(rho_samples: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Mutual information in nats per galaxy (Houlsby et al. 2011):
    H[mean_t Binom(k|N, rho_t)] - mean_t H[Binom(k|N, rho_t)]. Zero when the samples agree."""
    pmf = np.exp(_binomial_log_pmf(n, rho_samples))  # (T, galaxies, K)
    return np.maximum(_entropy(pmf.mean(axis=0)) - _entropy(pmf).mean(axis=0), 0.0)


def acquisition_scores(model: keras.Model, images: np.ndarray, labelled_n: np.ndarray,
                       labelled_shown: np.ndarray | None = None, *, mc_samples: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BALD of each candidate galaxy before anyone has voted on it (lesson 03): ``mc_samples``
    MC-dropout passes over ``images`` (candidates, h, w, bands), each candidate's expected N,
    then :func:`bald`. With ``labelled_shown`` (how many volunteers saw each labelled galaxy;
    the model must predict reach) a candidate's N is :func:`expected_volunteers` of its
    predicted reach; without it every candidate gets the mean N of the labelled galaxies,
    ``labelled_n``. Returns (scores (candidates,) in nats, rho samples (mc_samples,
    candidates), expected N (candidates,) int64)."""
    samples = posterior_samples(model, images, mc_samples, output=None)
    if labelled_shown is None:
        expected_n = np.full(len(images), int(round(np.mean(labelled_n))), np.int64)
    elif samples.shape[-1] != 2:
        raise ValueError(f"labelled_shown needs a model that predicts reach (2 outputs), not "
                         f"{samples.shape[-1]}: build it with predict_reach=True, or leave "
                         "labelled_shown out to score every candidate with the mean N")
    else:
        expected_n = expected_volunteers(samples[..., 1], labelled_shown)
    return bald(samples[..., 0], expected_n), samples[..., 0], expected_n


def coverage(rho_samples: np.ndarray, n: np.ndarray, k: np.ndarray, level: float = 0.8
             ) -> float:
    """Share of galaxies whose observed k lies in the central ``level`` predictive interval."""
    cdf = np.cumsum(predictive_pmf(rho_samples, n), axis=1)
    lo = np.argmax(cdf >= (1 - level) / 2, axis=1)
    hi = np.argmax(cdf >= 1 - (1 - level) / 2, axis=1)
    return float(np.mean((k >= lo) & (k <= hi)))


# -- active learning ------------------------------------------------------------------------------
def compiled_cnn(image_size: int, bands: int = 1, *, width: int, learning_rate: float = 1e-3,
                 steps_per_execution: int = 25, **kwargs: Any) -> keras.Model:
    """:func:`bayesian_cnn` (``kwargs``: ``mc_layers``, ``predict_reach``, ``seed``, ...)
    compiled for :func:`train` with Adam and :class:`BinomialLoss`, as active learning
    (lesson 03) trains it. ``steps_per_execution`` gradient steps run in one call of the
    compiled step, fewer trips through Python; :func:`train` still takes exactly ``steps``."""
    model = bayesian_cnn(image_size, bands, width=width, **kwargs)
    model.compile(keras.optimizers.Adam(learning_rate), BinomialLoss(),
                  steps_per_execution=steps_per_execution)
    return model


def train(model: keras.Model, images: np.ndarray, k: np.ndarray, n: np.ndarray, *, steps: int,
          batch_size: int = 64, seed: int = 0, shown_to: np.ndarray | None = None
          ) -> keras.Model:
    """``steps`` gradient steps of a compiled model on votes (k, N), shuffled and randomly
    flipped and turned (a galaxy has no up or left). A fixed number of steps, not epochs, so
    models trained on 100 or 500 galaxies get the same amount of training. A model built with
    ``predict_reach`` also learns from ``shown_to``, how many volunteers saw each galaxy: N of
    them reached the bar question."""
    outputs = model.outputs[0].shape[-1]
    if (outputs == 2) != (shown_to is not None):
        raise ValueError(f"the model has {outputs} output(s) but shown_to is "
                         f"{'missing' if shown_to is None else 'given'}: pass shown_to exactly "
                         "when the model was built with predict_reach=True")
    columns = [k, n] if shown_to is None else [k, n, n, shown_to]
    labels = np.stack(columns, 1).astype("float32")
    batches = (tf.data.Dataset.from_tensor_slices((images, labels))
               .shuffle(len(labels), seed=seed).repeat().batch(batch_size)
               .map(_flip_and_rotate).take(steps).prefetch(2))
    model.fit(batches, epochs=1, shuffle=False, verbose=0)
    return model


def test_nll(model: keras.Model, images: np.ndarray, k: np.ndarray, n: np.ndarray,
             n_samples: int) -> float:
    """Mean negative log predictive probability of the observed votes (nats per galaxy),
    under the MC-dropout posterior predictive (constant terms included)."""
    pmf = predictive_pmf(posterior_samples(model, images, n_samples), n)
    return float(-np.mean(np.log(np.maximum(pmf[np.arange(len(k)), k], 1e-12))))


def active_learning(data: dict[str, np.ndarray], pool: np.ndarray, test: np.ndarray, *,
                    acquisition: str, start: int, batch: int, rounds: int, steps: int,
                    mc_samples: int, width: int, seed: int, batch_size: int = 64,
                    learning_rate: float = 1e-3, mc_layers: int = 2, warm_start: bool = False,
                    predict_reach: bool = True, progress: bool = True) -> dict[str, list]:
    """Pool-based active learning (lesson 03): start with ``start`` random labelled galaxies
    from ``pool`` (indices into ``data``); each round train a Bayesian CNN for ``steps``
    gradient steps on the labelled set (a fresh one, or with ``warm_start`` the previous one
    trained further), record its test NLL on ``test``, then label ``batch`` more, chosen by
    ``acquisition``: "bald", the highest BALD scores under the current model, or "random".

    BALD needs N, but how many volunteers will answer the bar question is part of the label,
    unknown before a galaxy is shown. With ``predict_reach`` (needs ``data["shown_to"]``) the
    network also learns which share of the volunteers reach the question, and a candidate's N
    is that share of the mean ``shown_to`` of the labelled galaxies; without it, every
    candidate gets the mean N of the labelled galaxies. Both acquisitions train the same
    network. Returns per round the number of labels, the test NLL and the indices acquired."""
    from tqdm.auto import tqdm

    if acquisition not in ("bald", "random"):
        raise ValueError(f"acquisition must be 'bald' or 'random', not {acquisition!r}")
    if predict_reach and "shown_to" not in data:
        raise ValueError("predict_reach=True needs data['shown_to'], how many volunteers saw "
                         "each galaxy; pass predict_reach=False to score with the mean N")
    rng = np.random.default_rng(seed)
    images, k, n = data["images"], data["votes"], data["n_volunteers"]
    shown = data["shown_to"] if predict_reach else None
    labelled = list(rng.choice(pool, start, replace=False))
    remaining = np.setdiff1d(pool, labelled)
    history: dict[str, list] = {"labels": [], "test_nll": [], "acquired": []}
    size = images.shape[1]
    for r in tqdm(range(rounds + 1), desc=acquisition, leave=False, disable=not progress):
        if r == 0 or not warm_start:
            model = compiled_cnn(size, images.shape[-1], width=width, mc_layers=mc_layers,
                                 predict_reach=predict_reach, seed=seed * 1000 + r,
                                 learning_rate=learning_rate)
        idx = np.array(labelled)
        train(model, images[idx], k[idx], n[idx], steps=steps, batch_size=batch_size,
              seed=seed * 1000 + r, shown_to=None if shown is None else shown[idx])
        history["labels"].append(len(labelled))
        history["test_nll"].append(test_nll(model, images[test], k[test], n[test], mc_samples))
        if r == rounds:
            break
        if acquisition == "bald":
            scores, _, _ = acquisition_scores(model, images[remaining], n[idx],
                                              None if shown is None else shown[idx],
                                              mc_samples=mc_samples)
            chosen = remaining[np.argsort(-scores)[:batch]]
        else:
            chosen = rng.choice(remaining, batch, replace=False)
        history["acquired"].append(chosen.tolist())
        labelled += chosen.tolist()
        remaining = np.setdiff1d(remaining, chosen)
    return history


def _flip_and_rotate(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A random one of the 8 flips and quarter turns of each image in a batch (batch, h, w,
    bands; square): a galaxy has no up or left. Three fair coins (flip left-right, flip
    up-down, transpose) pick each of the 8 with probability 1/8."""
    for turn in (lambda x: tf.reverse(x, [2]), lambda x: tf.reverse(x, [1]),
                 lambda x: tf.transpose(x, [0, 2, 1, 3])):
        heads = tf.random.uniform([tf.shape(images)[0], 1, 1, 1]) < 0.5
        images = tf.where(heads, turn(images), images)
    return images, labels


def label_saving(labels: list[int], bald_nll: list[float], random_nll: list[float]) -> float:
    """1 - (labels BALD needs to reach random's final test NLL) / (labels random used), with
    linear interpolation between rounds; 0 when BALD never reaches it."""
    target = random_nll[-1]
    for i, value in enumerate(bald_nll):
        if value <= target:
            if i == 0:
                needed = float(labels[0])
            else:  # interpolate between rounds i-1 and i
                a, b = bald_nll[i - 1], value
                frac = (a - target) / (a - b) if a != b else 1.0
                needed = labels[i - 1] + frac * (labels[i] - labels[i - 1])
            return 1.0 - needed / labels[-1]
    return 0.0
