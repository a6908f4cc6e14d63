"""What the image-classification families share: the feature-extractor ending (`include_top`, `pooling`), the
`weights=PATH` loader (keras-nn and keras.applications weight files, matched by layer name), and
`ImageClassifier`, the base that puts them together."""

import io
import zipfile
from pathlib import Path

import h5py
import keras

from keras_nn.errors import ConfigError, MissingPathError, ModelFileError
from keras_nn.models.base import FunctionalModel, check_choice
from keras_nn.models.layer_tree import weight_layers

POOLINGS = (None, "avg", "max")


def feature_pooling(x, include_top, pooling):
    """The feature-extractor ending shared by the CNN families: the raw feature map or a global pooling."""
    if include_top:
        return x
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def check_top(include_top, pooling, classifier_activation):
    check_choice("pooling", pooling, POOLINGS)
    check_choice("classifier_activation", classifier_activation, ["softmax", None])
    if include_top and pooling is not None:
        raise ConfigError(
            f"pooling={pooling!r} applies to a feature extractor; pass include_top=False with it (the classifier "
            "head already pools)"
        )


# ---------------------------------------------------------------------------------------------------------------
# Weight files
# ---------------------------------------------------------------------------------------------------------------


def _read_keras3_store(handle):
    """Layer name -> arrays from a Keras 3 `.weights.h5` file (each variable group records its layer's name)."""
    arrays, unnamed = {}, []

    def visit(path, group):
        if not isinstance(group, h5py.Group) or not path.endswith("vars") or not len(group):
            return
        name = group.attrs.get("name")
        if name is None:
            unnamed.append(path)
            return
        name = name.decode() if isinstance(name, bytes) else str(name)
        values = [group[str(index)][()] for index in range(len(group))]
        arrays[name] = None if name in arrays else values  # None marks a name used twice: ambiguous

    if "vars" in handle:
        visit("vars", handle["vars"])
    handle.visititems(visit)
    return arrays, unnamed


def _read_legacy_h5(group):
    """Layer name -> arrays from a Keras 2 / legacy `.h5` file (keras.applications' downloads)."""
    arrays = {}
    for raw in group.attrs["layer_names"]:
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        layer = group[name]
        weight_names = [
            w.decode() if isinstance(w, bytes) else str(w) for w in layer.attrs.get("weight_names", [])
        ]
        if weight_names:
            arrays[name] = [layer[w][()] for w in weight_names]
    return arrays


def _open_weights(path):
    if str(path).endswith(".keras"):
        with zipfile.ZipFile(path) as archive:
            return h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    return h5py.File(path, "r")


def read_weight_arrays(path):
    """Reads a weight file into `{layer name: [arrays]}`.

    Takes Keras 3 `.weights.h5` files (`model.save_weights`), `.keras` archives, and legacy `.h5` files
    (`keras.applications` downloads, Keras 2 `save_weights`). Returns `(arrays, unnamed)`: `unnamed` lists the
    variable groups of a Keras 3 file that carry no layer name (files from Keras before 3.10), which only an
    exact-structure load can place.
    """
    path = Path(path)
    if not path.exists():
        raise MissingPathError(
            f"weights file {str(path)!r} does not exist; pass the path of a .weights.h5 file"
        )
    try:
        with _open_weights(path) as handle:
            if "layer_names" in handle.attrs:
                return _read_legacy_h5(handle), []
            if "model_weights" in handle and "layer_names" in handle["model_weights"].attrs:
                return _read_legacy_h5(handle["model_weights"]), []
            return _read_keras3_store(handle)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise ModelFileError(
            f"cannot read weights file {str(path)!r} ({error}); pass a file written by model.save_weights() "
            "(.weights.h5), a .keras file or a keras.applications .h5 weights file"
        ) from None


def load_weights_by_name(model, path):
    """Loads a weight file into `model`, matching layers by name; returns the model.

    Every layer of `model` that has weights must be in the file with the same weight shapes; layers of the file
    that the model lacks are ignored (so a feature extractor, `include_top=False`, loads a full model's file).
    Names are those of the weight-bearing (leaf) layers, which for ResNet-50/101/152, VGG-16/19 and
    MobileNetV2 are keras.applications' names: `keras.applications.ResNet50(weights=None).save_weights(p)`
    loads into `create_model("resnet50", weights=p)` and gives the same outputs.

    Raises:
        MissingPathError: no such file.
        ModelFileError: unreadable file, or the file does not fit the model (the message names the layers and
            shapes that differ).
    """
    arrays, unnamed = read_weight_arrays(path)
    leaves = weight_layers(model)
    if unnamed and not any(name in arrays for name in leaves):
        # A Keras 3 file from before layer names were recorded: only Keras' structural load can place it.
        try:
            model.load_weights(path)
        except ValueError as error:
            raise ModelFileError(
                f"weights file {str(path)!r} does not fit model {model.name!r}: {str(error).splitlines()[0]}"
            ) from None
        return model
    missing = sorted(name for name in leaves if name not in arrays)
    ambiguous = sorted(name for name in leaves if name in arrays and arrays[name] is None)
    mismatched = []
    for name, layer in leaves.items():
        if name in missing or name in ambiguous:
            continue
        want = [tuple(w.shape) for w in layer.weights]
        got = [tuple(a.shape) for a in arrays[name]]
        if want != got:
            mismatched.append(f"{name}: file {got}, model {want}")
    if missing or ambiguous or mismatched:
        problems = []
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            problems.append(
                f"{len(missing)} of the model's {len(leaves)} weight layers are not in the file ({shown})"
            )
        if ambiguous:
            problems.append(f"layer names stored twice in the file: {', '.join(ambiguous[:5])}")
        if mismatched:
            problems.append("shapes differ: " + "; ".join(mismatched[:3]))
        raise ModelFileError(
            f"weights file {str(path)!r} does not fit model {model.name!r}: {'; '.join(problems)}. Build the model "
            "with the configuration the file was saved from (same registered model, num_classes, include_top, "
            "alpha)"
        )
    for name, layer in leaves.items():
        layer.set_weights(arrays[name])
    return model


def load_weights_argument(model, weights):
    """Applies a model's `weights=None|PATH` argument."""
    if weights is None:
        return
    if not isinstance(weights, (str, Path)):
        raise ConfigError(f"weights={weights!r} must be None or the path of a weights file")
    load_weights_by_name(model, weights)


class ImageClassifier(FunctionalModel):
    """Base of the CNN families: a functional image model with a classifier top or a feature-extractor end.

    A subclass builds its layers up to `features` (with its classifier head when `include_top`) and calls
    `self._finish(images, features, arguments, **kwargs)`, which adds the pooling of a feature extractor,
    builds the functional model, records the constructor arguments and loads `weights`.
    """

    def _finish(self, images, features, arguments, extra_outputs=(), **kwargs):
        outputs = feature_pooling(features, arguments["include_top"], arguments["pooling"])
        if extra_outputs:
            outputs = [outputs, *extra_outputs]
        super().__init__(inputs=images, outputs=outputs, name=arguments["name"], **kwargs)
        self._init_arguments(arguments)
        # The weights were loaded into this instance; a config that reloads them again would be a trap.
        self._config["weights"] = None
        self.num_classes = arguments["num_classes"]
        self.classifier_activation = arguments["classifier_activation"]
        load_weights_argument(self, arguments["weights"])
