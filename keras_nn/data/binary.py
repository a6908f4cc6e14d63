"""Data for Bernoulli visible units: checking that it is binary, thresholding it when asked, and keeping a
labelled share of the training split (the few-labels setting of layer-wise pretraining)."""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_nn.errors import ConfigError, DataError


def check_visible_data(x, visible_type, binarize, probabilities, source):
    """Raises `DataError` (one line: the problem and the fixes) unless `x` suits `visible_type` units.

    Bernoulli units take values in [0, 1]; values strictly between 0 and 1 are accepted only as probabilities
    (`probabilities=True`, as Hinton & Salakhutdinov treat MNIST's grey levels) or after thresholding
    (`binarize`, checked here, applied by `binarize_bundle`). Gaussian units take any real values.
    """
    if visible_type != "bernoulli" or x.size == 0:
        return
    low, high = float(np.min(x)), float(np.max(x))
    if low < 0.0 or high > 1.0:
        raise DataError(
            f"data {source} has values in [{low:g}, {high:g}]; Bernoulli visible units take values in [0, 1]: "
            "scale the data to [0, 1], or set model.visible_type: gaussian for standardized real values"
        )
    if binarize is not None or probabilities:
        return
    grey = np.count_nonzero((x > 0.0) & (x < 1.0))
    if grey:
        levels = len(np.unique(x))
        raise DataError(
            f"data {source} is not binary ({levels} distinct values in [0, 1], {grey} of them strictly between); "
            "Bernoulli visible units take 0/1 data: set task_options.binarize: 0.5 to threshold it, "
            "task_options.probabilities: true to use the values as probabilities, or model.visible_type: gaussian"
        )


def check_threshold(binarize):
    """The `binarize` threshold, or None; `ConfigError` unless it is in (0, 1)."""
    if binarize is not None and not 0.0 < float(binarize) < 1.0:
        raise ConfigError(f"task_options.binarize={binarize!r} must be a threshold in (0, 1), e.g. 0.5, or null")
    return binarize


def binarize_bundle(bundle, threshold):
    """A copy of `bundle` whose inputs are 1 where above `threshold` and 0 elsewhere, in every split."""
    threshold = float(check_threshold(threshold))

    def binarize(x, y):
        return tf.cast(x > threshold, x.dtype), y

    return bundle.map(binarize)


def labelled_share(x, y, fraction, seed):
    """The indices of a stratified `fraction` of `(x, y)`, at least one example per class, in a fixed order.

    `fraction=1` keeps everything.
    """
    if not 0.0 < float(fraction) <= 1.0:
        raise ConfigError(f"task_options.label_fraction={fraction!r} must be in (0, 1], e.g. 0.1 for 10% of the labels")
    if fraction >= 1.0:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    kept = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        count = max(1, int(round(fraction * len(members))))
        kept.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(kept))


def batched_arrays(arrays, batch_size, shuffle, seed):
    """A batched `tf.data` pipeline over numpy arrays (a tuple for `(x, y)`), reshuffled each epoch if asked."""
    dataset = tf.data.Dataset.from_tensor_slices(arrays)
    if shuffle:
        first = arrays[0] if isinstance(arrays, tuple) else arrays
        dataset = dataset.shuffle(len(first), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def labelled_bundle(bundle, fraction, seed, batch_size):
    """A copy of `bundle` whose training split keeps only a stratified `fraction` of its labelled examples
    (`labelled_share`), reshuffled each epoch; validation and test are untouched. Returns `(bundle, kept)`, with
    `kept` the number of training examples left."""
    x, y = bundle.as_numpy("train")
    keep = labelled_share(x, y, fraction, seed)
    if len(keep) == len(y):
        return bundle, len(y)
    x, y = x[keep], y[keep]
    return dataclasses.replace(
        bundle,
        train=batched_arrays((x, y), batch_size, shuffle=True, seed=seed),
        num_examples={**bundle.num_examples, "train": len(y)},
        _examples={**bundle._examples, "train": tf.data.Dataset.from_tensor_slices((x, y))},
    ), len(y)
