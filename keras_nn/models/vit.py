"""Vision Transformer (ViT) and its data-efficient, distilled variant DeiT: an image read as a sentence of
patches, encoded by pre-LN Transformer blocks."""

import math
import os

import keras
from keras import ops

from keras_nn.errors import ConfigError, ModelFileError
from keras_nn.layers.position.patch_position_embedding import (
    PatchPositionEmbedding,
)
from keras_nn.layers.transformer.encoder_block import TransformerEncoderBlock
from keras_nn.layers.vision.class_token import ClassToken
from keras_nn.layers.vision.patch_embedding import PatchEmbedding
from keras_nn.layers.vision.token_pooling import TokenPooling
from keras_nn.models.base import (
    FunctionalModel,
    check_choice,
    check_input_shape,
    check_positive_int,
    check_rate,
)
from keras_nn.models.image_model import read_weight_arrays
from keras_nn.models.registry import register_model

VIT_POOLINGS = ("token", "avg", None)


def _encoder_layers(arguments, grid_size, num_prefix_tokens):
    """The layers of the token encoder, by name, in the order `_encode` calls them."""
    depth = arguments["depth"]
    layers = {
        "patch_embedding": PatchEmbedding(arguments["patch_size"], arguments["hidden_dim"], name="patch_embedding"),
        "class_token": ClassToken(name="class_token"),
        "position_embedding": PatchPositionEmbedding(grid_size, num_prefix_tokens, name="position_embedding"),
        "add_position_embedding": keras.layers.Add(name="add_position_embedding"),
        "embedding_dropout": keras.layers.Dropout(arguments["dropout"], name="embedding_dropout"),
        "encoder_norm": keras.layers.LayerNormalization(
            epsilon=arguments["layer_norm_epsilon"], name="encoder_norm"
        ),
    }
    if arguments["distilled"]:
        layers["distillation_token"] = ClassToken(name="distillation_token")
    for index in range(depth):
        # Stochastic depth rises linearly from 0 at the first block to drop_path_rate at the last (timm, DeiT).
        rate = arguments["drop_path_rate"] * index / max(depth - 1, 1)
        layers[f"encoder_block_{index + 1}"] = TransformerEncoderBlock(
            num_heads=arguments["num_heads"],
            intermediate_dim=arguments["mlp_dim"],
            dropout=arguments["dropout"],
            activation="gelu",
            norm_first=True,
            layer_norm_epsilon=arguments["layer_norm_epsilon"],
            drop_path_rate=rate,
            name=f"encoder_block_{index + 1}",
        )
    return layers


def _encode(layers, depth, images, training=None, return_attention_scores=False):
    """Images -> normalized tokens `[batch, prefix + patches, D]` (and each block's attention weights)."""
    x = layers["patch_embedding"](images)
    if "distillation_token" in layers:
        x = layers["distillation_token"](x)  # the class token goes in front of it: [class, distillation, ...]
    x = layers["class_token"](x)
    x = layers["add_position_embedding"]([x, layers["position_embedding"](x)])
    x = layers["embedding_dropout"](x, training=training)
    scores = []
    for index in range(depth):
        block = layers[f"encoder_block_{index + 1}"]
        if return_attention_scores:
            x, block_scores = block(x, return_attention_scores=True, training=training)
            scores.append(block_scores)
        else:
            x = block(x, training=training)
    x = layers["encoder_norm"](x)
    return (x, scores) if return_attention_scores else x


@keras.saving.register_keras_serializable(package="keras_nn")
class VisionTransformer(FunctionalModel):
    """Vision Transformer (ViT) and DeiT: patches of the image, linearly embedded, a learned class token in
    front (and DeiT's distillation token after it), learned position embeddings added, pre-LN Transformer
    encoder blocks (multi-head self-attention and a GELU MLP, each `x + DropPath(sublayer(LayerNorm(x)))`), a
    final LayerNorm and a linear head on the class token (or the mean of the patch tokens).

    The standard configurations have timm's parameter counts exactly, with `num_classes=1000` and 224x224x3
    inputs: `vit_tiny_patch16_224` and `deit_tiny_patch16_224` 5,717,416; `vit_small_patch16_224` and
    `deit_small_patch16_224` 22,050,664; `vit_base_patch16_224` 86,567,656; `deit_tiny_distilled_patch16_224`
    5,910,800; `deit_small_distilled_patch16_224` 22,436,432; `deit_base_distilled_patch16_224` 87,338,192
    (the convention of timm's `vit_*`/`deit_*`: no pre-logits layer, biases on the query, key and value
    projections, LayerNorm epsilon 1e-6). DeiT (non-distilled) is ViT's architecture trained with DeiT's
    recipe; the distilled models add the distillation token, its position and a second head.

    With `distilled=True` the model has two heads, `predictions` on the class token and
    `predictions_distillation` on the distillation token. Its output (what `predict`, evaluation and every
    export see) is the mean of the two heads' logits, then the classifier activation: DeiT's inference rule
    (Touvron et al. 2021, section 5.2, and timm's `VisionTransformerDistilled` in eval mode). keras-hub's
    `DeiTImageClassifier` reads the class token only; the mean is what the paper reports its distilled numbers
    with, so it is followed here. For training, `head_logits(images, training=True)` returns both heads'
    logits; the `distillation` task trains the class head on the labels and the distillation head on the
    teacher.

    Args:
        num_classes: classes of the head.
        input_shape: `(height, width, channels)`; height and width must be multiples of `patch_size`.
        patch_size: side of each square patch.
        hidden_dim: token width `D`.
        depth: encoder blocks.
        num_heads: attention heads per block.
        mlp_dim: width of each block's MLP hidden layer.
        distilled: DeiT's distillation token and second head.
        pooling: what the head reads: `"token"` (the class token; with `distilled`, the class and distillation
            tokens) or `"avg"` (the mean of the patch tokens, not allowed with `distilled`). With
            `include_top=False`, `None` returns every normalized token `[batch, tokens, D]`.
        include_top: the classifier head; False gives features (`[batch, D]`, or the tokens with `pooling=None`;
            a distilled model's pooled feature is the mean of its two tokens, as timm's `pre_logits`).
        dropout: dropout after the position embedding, on each block's sublayer outputs and attention weights,
            and before the head (0 in ViT's and DeiT's ImageNet training).
        drop_path_rate: stochastic depth of the last block, rising linearly from 0 at the first (DeiT: 0.1).
        layer_norm_epsilon: epsilon of every LayerNorm (1e-6, as timm and keras-hub).
        classifier_activation: `"softmax"` for probabilities or `None` for logits.
        weights: None, or the path of a `.weights.h5` (or `.keras`) file to load, matched by layer name. A
            file saved at another image size loads too: its position embedding is resampled (bicubic) to this
            model's patch grid, as timm's `resample_abs_pos_embed`.
        name: model name.

    Call arguments:
        images: `[batch, height, width, channels]` float images (the data pipeline's 0..1 values).

    Example:
    >>> model = keras_nn.create_model("vit_tiny_patch16_224", num_classes=10, input_shape=(32, 32, 3),
    ...                               patch_size=4, depth=4)
    >>> model(np.zeros((2, 32, 32, 3))).shape
    (2, 10)

    References:
        Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale", ICLR
        2021, https://arxiv.org/abs/2010.11929.
        Touvron et al., "Training data-efficient image transformers & distillation through attention", ICML
        2021, https://arxiv.org/abs/2012.12877.
        timm, `vision_transformer.py` and `deit.py` (parameter counts and initialization),
        https://github.com/huggingface/pytorch-image-models.
    """

    def __init__(
        self,
        num_classes=1000,
        input_shape=(224, 224, 3),
        patch_size=16,
        hidden_dim=768,
        depth=12,
        num_heads=12,
        mlp_dim=3072,
        distilled=False,
        pooling="token",
        include_top=True,
        dropout=0.0,
        drop_path_rate=0.0,
        layer_norm_epsilon=1e-6,
        classifier_activation="softmax",
        weights=None,
        name="vision_transformer",
        **kwargs,
    ):
        arguments = dict(locals())
        for key in ("num_classes", "patch_size", "hidden_dim", "depth", "num_heads", "mlp_dim"):
            check_positive_int(key, arguments[key])
        check_rate("dropout", dropout)
        check_rate("drop_path_rate", drop_path_rate)
        check_choice("pooling", pooling, VIT_POOLINGS)
        check_choice("classifier_activation", classifier_activation, ["softmax", None])
        if include_top and pooling is None:
            raise ConfigError("pooling=None returns the tokens of a feature extractor; pass include_top=False with it")
        if distilled and pooling == "avg":
            raise ConfigError(
                "pooling='avg' does not fit distilled=True: DeiT's heads read the class and distillation tokens; "
                "use pooling='token'"
            )
        if hidden_dim % num_heads:
            raise ConfigError(
                f"hidden_dim={hidden_dim} is not divisible by num_heads={num_heads}; change one of them"
            )
        input_shape = check_input_shape(name, input_shape, rank=3)
        images = keras.Input(shape=input_shape, name="images")
        num_prefix_tokens = 2 if distilled else 1
        patch_layer = PatchEmbedding(patch_size, hidden_dim)
        grid_size = patch_layer.grid_size((None, *input_shape))  # ShapeError when the size does not divide

        layers = _encoder_layers(arguments, grid_size, num_prefix_tokens)
        tokens = _encode(layers, depth, images)
        outputs = _head(tokens, arguments, num_prefix_tokens)
        super().__init__(inputs=images, outputs=outputs, name=name, **kwargs)
        self._init_arguments(arguments)
        # The weights were loaded into this instance; a config that reloads them again would be a trap.
        self._config["weights"] = None
        self.num_classes = num_classes
        self.classifier_activation = classifier_activation
        self.distilled = bool(distilled)
        self.num_prefix_tokens = num_prefix_tokens
        self.patch_size = patch_size
        self.grid_size = grid_size
        self.depth = depth
        # What `encode` replays: the names `_encoder_layers` gave the layers it built for the graph above.
        self.encoder_layer_names = tuple(layers)
        if weights is not None:
            if not isinstance(weights, (str, os.PathLike)):
                raise ConfigError(f"weights={weights!r} must be None or the path of a weights file")
            self.load_weights_file(weights)

    # ---------------------------------------------------------------------------------------------- replays

    def _layers_by_name(self):
        return {name: self.get_layer(name) for name in self.encoder_layer_names}

    def encode(self, images, training=None, return_attention_scores=False):
        """The encoder's normalized output tokens `[batch, prefix + patches, D]` for `images`; with
        `return_attention_scores`, also each block's attention weights `[batch, heads, tokens, tokens]` (a list,
        first block first), which attention rollout reads."""
        images = ops.convert_to_tensor(images, dtype=self.inputs[0].dtype)
        return _encode(self._layers_by_name(), self.depth, images, training, return_attention_scores)

    def head_logits(self, images, training=None):
        """The heads' logits before averaging and activation: `[class_logits]` for ViT, `[class_logits,
        distillation_logits]` for a distilled DeiT (each `[batch, num_classes]`, float32). Needs
        `include_top=True`."""
        if not self._config["include_top"]:
            raise ConfigError(f"model {self.name!r} was built with include_top=False and has no heads")
        tokens = self.encode(images, training=training)
        pooled = self.get_layer("head_dropout")(self.get_layer("head_pooling")(tokens), training=training)
        logits = [self.get_layer("predictions")(pooled)]
        if self.distilled:
            logits.append(self.get_layer("predictions_distillation")(self.get_layer("distillation_pooling")(tokens)))
        return logits

    def load_weights_file(self, path):
        """Loads a `.weights.h5` (or `.keras`) file saved from a `VisionTransformer`; returns the model.

        The file may come from another image size (its position table is resampled, bicubic, to this model's
        grid, as timm's `resample_abs_pos_embed`), or from a model with a head when this one is a feature
        extractor. The encoder blocks' inner layers share names from block to block, so the file is read into a
        twin model built as it was saved, then copied layer by layer.

        Raises:
            MissingPathError: no such file.
            ModelFileError: unreadable, not a ViT/DeiT file, or a different architecture (the message says how).
        """
        arrays, _ = read_weight_arrays(path)
        table = arrays.get("position_embedding")
        if not table:
            raise ModelFileError(
                f"weights file {str(path)!r} holds no ViT position embedding; pass a file saved from a "
                "VisionTransformer (model.save_weights)"
            )
        table = table[0]
        patches = table.shape[0] - (2 if "distillation_token" in arrays else 1)
        # The file does not record its grid: a table of this model's size is read as this model's grid (so a
        # non-square model loads its own file), any other as a square grid.
        if patches == self.grid_size[0] * self.grid_size[1]:
            saved_grid = self.grid_size
        else:
            side = math.isqrt(max(patches, 0))
            if side * side != patches:
                raise ModelFileError(
                    f"weights file {str(path)!r}: its position table {tuple(table.shape)} is neither this model's "
                    f"{self.grid_size[0]}x{self.grid_size[1]} patch grid nor a square one; build the model at the "
                    "image size the file was saved at and call load_weights"
                )
            saved_grid = (side, side)
        head = arrays.get("predictions")
        saved_as = {
            **self._config,
            "input_shape": (
                saved_grid[0] * self.patch_size,
                saved_grid[1] * self.patch_size,
                self.inputs[0].shape[-1],
            ),
            "distilled": "distillation_token" in arrays,
            "include_top": head is not None,
            "num_classes": head[0].shape[-1] if head else self._config["num_classes"],
            # Pooling holds no weights; the twin takes the one its head (or its lack of one) allows.
            "pooling": "token" if head else None,
            "weights": None,
        }
        try:
            twin = VisionTransformer(**saved_as)
            twin.load_weights(path)
        except (ValueError, ConfigError) as error:
            raise ModelFileError(
                f"weights file {str(path)!r} does not fit model {self.name!r}: {str(error).splitlines()[0]}. Build the "
                "model with the configuration the file was saved from (depth, hidden_dim, num_heads, mlp_dim, "
                "patch_size)"
            ) from None
        for layer in self.layers:
            if not layer.weights:
                continue
            source = twin.get_layer(layer.name) if layer.name in {other.name for other in twin.layers} else None
            if source is None:
                raise ModelFileError(
                    f"weights file {str(path)!r} has no layer {layer.name!r} of model {self.name!r}; build the model "
                    "with the configuration the file was saved from (include_top, distilled, num_classes)"
                )
            values = source.get_weights()
            if layer.name == "position_embedding":
                values = [ops.convert_to_numpy(source.resampled(self.grid_size))]
            if [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
                raise ModelFileError(
                    f"weights file {str(path)!r} does not fit model {self.name!r}: layer {layer.name!r} has shapes "
                    f"{[v.shape for v in values]} in the file, {[tuple(w.shape) for w in layer.weights]} in the model. "
                    "Build the model with the configuration the file was saved from (num_classes, hidden_dim)"
                )
            layer.set_weights(values)
        return self


def _head(tokens, arguments, num_prefix_tokens):
    """The classifier head (or the feature extractor's end) on the encoder's tokens."""
    pooling, distilled = arguments["pooling"], arguments["distilled"]
    if not arguments["include_top"]:
        if pooling is None:
            return tokens
        pooled = TokenPooling(pooling, num_prefix_tokens, name="head_pooling")(tokens)
        if distilled:
            distillation = TokenPooling("distillation_token", num_prefix_tokens, name="distillation_pooling")(tokens)
            pooled = keras.layers.Average(name="feature_average")([pooled, distillation])
        return pooled
    num_classes = arguments["num_classes"]
    pooled = TokenPooling(pooling, num_prefix_tokens, name="head_pooling")(tokens)
    pooled = keras.layers.Dropout(arguments["dropout"], name="head_dropout")(pooled)
    # The heads run in float32, so mixed-precision training keeps a stable softmax and loss.
    logits = keras.layers.Dense(num_classes, dtype="float32", name="predictions")(pooled)
    if distilled:
        distillation = TokenPooling("distillation_token", num_prefix_tokens, name="distillation_pooling")(tokens)
        distillation_logits = keras.layers.Dense(num_classes, dtype="float32", name="predictions_distillation")(
            distillation
        )
        logits = keras.layers.Average(dtype="float32", name="head_average")([logits, distillation_logits])
    if arguments["classifier_activation"] is None:
        return logits
    return keras.layers.Activation(arguments["classifier_activation"], dtype="float32", name="probabilities")(logits)


def _register(name, description, paper, **defaults):
    register_model(name, VisionTransformer, family="transformer", description=description, paper=paper, **defaults)


_VIT = "Dosovitskiy et al. 2021 (ViT); parameter counts as timm"
_DEIT = "Touvron et al. 2021 (DeiT); parameter counts as timm"
_TINY = {"hidden_dim": 192, "depth": 12, "num_heads": 3, "mlp_dim": 768}
_SMALL = {"hidden_dim": 384, "depth": 12, "num_heads": 6, "mlp_dim": 1536}
_BASE = {"hidden_dim": 768, "depth": 12, "num_heads": 12, "mlp_dim": 3072}

_register("vit_tiny_patch16_224", "ViT-Ti/16 at 224x224 (5.7M parameters)", _VIT, **_TINY)
_register("vit_small_patch16_224", "ViT-S/16 at 224x224 (22.1M parameters)", _VIT, **_SMALL)
_register("vit_base_patch16_224", "ViT-B/16 at 224x224 (86.6M parameters)", _VIT, **_BASE)
_register("deit_tiny_patch16_224", "DeiT-Ti: ViT-Ti/16 with DeiT's stochastic depth (5.7M)", _DEIT,
          drop_path_rate=0.1, **_TINY)
_register("deit_small_patch16_224", "DeiT-S: ViT-S/16 with DeiT's stochastic depth (22.1M)", _DEIT,
          drop_path_rate=0.1, **_SMALL)
_register("deit_tiny_distilled_patch16_224", "DeiT-Ti with the distillation token and head (5.9M)", _DEIT,
          distilled=True, drop_path_rate=0.1, **_TINY)
_register("deit_small_distilled_patch16_224", "DeiT-S with the distillation token and head (22.4M)", _DEIT,
          distilled=True, drop_path_rate=0.1, **_SMALL)
_register("deit_base_distilled_patch16_224", "DeiT-B with the distillation token and head (87.3M)", _DEIT,
          distilled=True, drop_path_rate=0.1, **_BASE)
