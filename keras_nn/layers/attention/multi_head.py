"""`MultiHeadAttention` (Vaswani et al. 2017), with the key/value cache of step-by-step decoding."""

import math

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers.attention.masks import (
    hidden_keras_masks,
    intersect_masks,
    keras_mask,
    make_causal_mask,
    make_sliding_window_mask,
    masked_softmax,
)
from keras_nn.layers.validation import check_positive_int, check_rate


@keras.saving.register_keras_serializable(package="keras_nn")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention: `h` scaled dot-product attentions over learned projections, concatenated and
    projected back (Vaswani et al. 2017, section 3.2.2), with a key/value cache for step-by-step decoding.

    The variables are those of `keras.layers.MultiHeadAttention`, in the same order and shapes (query, key and
    value kernels `[d, heads, key_dim]` with biases `[heads, key_dim]`, the output kernel `[heads, value_dim,
    d_out]` with bias `[d_out]`), so `ours.set_weights(keras_layer.get_weights())` gives the same outputs
    (tested). What this layer adds is the cache of keras-hub's `CachedMultiHeadAttention`:

    - `cache` is `[batch, 2, max_length, heads, key_dim]`: the projected keys (index 0) and values (index 1).
    - With `cache_update_index`, the keys and values of the current query block are written into the cache at
      that position (`ops.slice_update`) and the queries attend over the whole cache: pass a mask that hides
      the positions not written yet (`use_causal_mask=True` does so, starting at `cache_update_index`).
    - With `cache_update_index=None` the cache is used as it is (the encoder keys/values of cross-attention,
      projected once by `compute_cache`).

    It takes `keras.layers.MultiHeadAttention`'s constructor and call arguments, in Keras's order (a Keras
    config loads with `from_config`; tested against Keras with the same weights, masks included). Where it
    differs, on purpose:

    - A query whose every key is masked gets zero attention (its context is zero), with or without scores
      asked; Keras gives it zero on its softmax path and a uniform average of all values on its fused path
      (with `flash_attention`, keras-nn too leaves such a row to the backend's kernel).
    - An explicit `query_mask` is applied; Keras reads the query's mask only from the query tensor.
    - The inputs keep their Keras masks after the call (Keras deletes them).
    - `value` defaults to `query`; `cache` and `cache_update_index` follow Keras's arguments.
    - `attention_axes` may only name the length axis: inputs are `[batch, length, width]`.
    - With a cache, the Keras masks of `value` and `key` are not applied (they cover this call's steps, not
      the cache): mask the cache positions with `attention_mask`.

    Args:
        num_heads: attention heads `h`.
        key_dim: size of each head's queries and keys, `d_k` (usually `d_model / h`).
        value_dim: size of each head's values, `d_v`; default `key_dim`.
        dropout: dropout rate on the attention weights.
        use_bias: biases in the projections.
        output_shape: output width (an int or a 1-tuple); default the query's width.
        attention_axes: None, or the length axis (`1`, `-2` or a 1-tuple of it); other axes raise `ConfigError`.
        sliding_window: None, or `w`: each query sees only keys within `w - 1` positions (a symmetric band;
            with `use_causal_mask` the causal window of Mistral-style models).
        flash_attention: use the backend's flash-attention kernel (None: Keras's global setting,
            `keras.config.enable_flash_attention()`); as in Keras it excludes dropout and attention scores, and
            the backend raises where it has no such kernel (TensorFlow).
        kernel_initializer, bias_initializer: initializers of the projections (a fresh copy for each).
        kernel_regularizer, bias_regularizer, activity_regularizer: regularizers of every projection.
        kernel_constraint, bias_constraint: constraints of every projection.
        use_gate: gated attention (Qiu et al. 2025): the output of each head is multiplied by
            `sigmoid(query W_g + b_g)` before the output projection.
        seed: seed of the attention dropout.
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        query: `[batch, Tq, d]`.
        value: `[batch, Tk, d_v_in]`; default `query` (self-attention). Unused with a cache and no
            `cache_update_index`.
        key: `[batch, Tk, d_k_in]`; default `value`.
        query_mask, value_mask, key_mask: `[batch, Tq]` / `[batch, Tk]` booleans, True at real steps; by
            default the Keras masks of the tensors (`Embedding(mask_zero=True)`, `Masking`). A masked query
            attends to nothing; masked keys get no attention.
        attention_mask: booleans broadcastable to `[batch, Tq, Tk]` (or `[batch, heads, Tq, Tk]`), True where
            the query may attend to the key. All masks given are combined with AND.
        return_attention_scores: also return the weights `[batch, heads, Tq, Tk]`.
        training: dropout on or off.
        use_causal_mask: also apply the look-ahead mask (shifted by `cache_update_index` when caching).
        cache: optional `[batch, 2, max_length, heads, key_dim]` key/value cache.
        cache_update_index: where the current keys/values go in the cache (int or scalar tensor), or None.

    Returns:
        `output [batch, Tq, d_out]` (carrying the query's Keras mask); then `cache` if a cache was given; then
        the scores if asked: `output`, `(output, scores)`, `(output, cache)` or `(output, cache, scores)`.

    Example:
    >>> attention = keras_nn.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.random.rand(3, 6, 8).astype("float32")
    >>> attention(x, x, use_causal_mask=True).shape
    (3, 6, 8)

    References:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017, https://arxiv.org/abs/1706.03762.
        Qiu et al., "Gated Attention for Large Language Models", 2025, https://arxiv.org/abs/2505.06708.
        keras-hub `CachedMultiHeadAttention` (the cache layout and update semantics).
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        sliding_window=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        check_positive_int(owner, "num_heads", num_heads)
        check_positive_int(owner, "key_dim", key_dim)
        if value_dim is not None:
            check_positive_int(owner, "value_dim", value_dim)
        check_rate(owner, "dropout", dropout)
        if isinstance(output_shape, (list, tuple)):
            if len(output_shape) != 1:
                raise ConfigError(
                    f"{owner}: output_shape={output_shape!r} must be an int or a 1-tuple (the width)"
                )
            output_shape = output_shape[0]
        if output_shape is not None:
            check_positive_int(owner, "output_shape", output_shape)
        self.attention_axes = _check_attention_axes(attention_axes)
        if sliding_window is not None:
            check_positive_int(owner, "sliding_window", sliding_window)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim or key_dim
        self.dropout = float(dropout)
        self.use_bias = use_bias
        # Not `self.output_shape`: Functional models and Sequential own that attribute name.
        self.output_width = output_shape
        self.sliding_window = sliding_window
        self.use_gate = bool(use_gate)
        self.flash_attention = flash_attention
        # As Keras decides it: the argument, else the global `keras.config.enable_flash_attention()` setting.
        self._use_flash_attention = flash_attention or keras.config.is_flash_attention_enabled()
        if self._use_flash_attention and self.dropout > 0.0:
            raise ConfigError(
                f"{owner}: flash attention has no dropout; got dropout={dropout!r} with flash_attention="
                f"{flash_attention!r}: set dropout=0.0 or flash_attention=False"
            )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        # Keras gives the activity regularizer to each projection, not to the layer's own output.
        self.projection_activity_regularizer = keras.regularizers.get(activity_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.seed = seed
        self.dropout_layer = keras.layers.Dropout(self.dropout, seed=seed, dtype=self.dtype_policy)
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(key_dim)
        self.supports_masking = True

    def _projection(self, equation, output_shape, bias_axes, name, activation=None):
        # A fresh initializer per projection, as Keras does: a shared seeded instance would repeat its values.
        return keras.layers.EinsumDense(
            equation,
            output_shape=output_shape,
            activation=activation,
            bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=self.kernel_initializer.__class__.from_config(
                self.kernel_initializer.get_config()
            ),
            bias_initializer=self.bias_initializer.__class__.from_config(self.bias_initializer.get_config()),
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            activity_regularizer=self.projection_activity_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, query_shape, value_shape=None, key_shape=None):
        # With only a cache (cross-attention keys/values computed elsewhere) assume self-attention widths.
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        for name, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3:
                raise ShapeError(
                    f"MultiHeadAttention: {name} must be [batch, length, width]; got shape {shape} (for "
                    "attention over other axes of higher-rank inputs use keras.layers.MultiHeadAttention)"
                )
        heads = self.num_heads
        # Built in Keras's order (query, key, gate, value, output), so that get_weights() lines up.
        self.query_dense = self._projection("abc,cde->abde", (None, heads, self.key_dim), "de", "query")
        self.query_dense.build(query_shape)
        self.key_dense = self._projection("abc,cde->abde", (None, heads, self.key_dim), "de", "key")
        self.key_dense.build(key_shape)
        if self.use_gate:
            self.gate_dense = self._projection(
                "abc,cde->abde", (None, heads, self.value_dim), "de", "gate", activation="sigmoid"
            )
            self.gate_dense.build(query_shape)
        self.value_dense = self._projection("abc,cde->abde", (None, heads, self.value_dim), "de", "value")
        self.value_dense.build(value_shape)
        width = self.output_width or query_shape[-1]
        self.output_dense = self._projection("abcd,cde->abe", (None, width), "e", "attention_output")
        self.output_dense.build((query_shape[0], query_shape[1], heads, self.value_dim))

    def compute_cache(self, value, key=None):
        """Projects keys and values once: the `[batch, 2, Tk, heads, key_dim]` cache of cross-attention."""
        self._check_cacheable()
        return ops.stack([self.key_dense(value if key is None else key), self.value_dense(value)], axis=1)

    def empty_cache(self, batch_size, max_length):
        """A zero `[batch, 2, max_length, heads, key_dim]` self-attention cache, filled step by step."""
        self._check_cacheable()
        return ops.zeros((batch_size, 2, max_length, self.num_heads, self.key_dim), dtype=self.compute_dtype)

    def _check_cacheable(self):
        if self.value_dim != self.key_dim:
            raise ConfigError(
                f"MultiHeadAttention: a key/value cache needs value_dim == key_dim; got {self.value_dim} and "
                f"{self.key_dim}"
            )

    def call(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
    ):
        if self._use_flash_attention and return_attention_scores:
            raise ConfigError(
                "MultiHeadAttention: flash attention does not compute the attention scores; call with "
                "return_attention_scores=False or build with flash_attention=False"
            )
        # Keras fills `*_mask` from the tensors' own masks only when a call has two tensors or more.
        query_mask = keras_mask(query) if query_mask is None else query_mask
        if value is None:
            value, value_mask = query, query_mask if value_mask is None else value_mask
        else:
            value_mask = keras_mask(value) if value_mask is None else value_mask
        key_mask = keras_mask(key) if key_mask is None else key_mask
        # Applied here as one attention mask; detached meanwhile so the projections do not warn about them.
        with hidden_keras_masks(query, value, key):
            if cache is None:
                if cache_update_index is not None:
                    raise ConfigError("MultiHeadAttention: cache_update_index needs a cache; pass cache=...")
                keys = self.key_dense(value if key is None else key)
                values = self.value_dense(value)
            else:
                # The keys run over the cache, which the masks of this call's value and key do not cover.
                value_mask = key_mask = None
                if cache_update_index is None:
                    keys, values = cache[:, 0], cache[:, 1]
                else:
                    start = [0, cache_update_index, 0, 0]
                    keys = ops.slice_update(cache[:, 0], start, self.key_dense(value if key is None else key))
                    values = ops.slice_update(cache[:, 1], start, self.value_dense(value))
                    cache = ops.stack([keys, values], axis=1)
            queries = self.query_dense(query)
            attention_mask = self._attention_mask(
                queries,
                keys,
                query_mask,
                value_mask,
                key_mask,
                attention_mask,
                use_causal_mask,
                cache_update_index,
            )
            if self._use_flash_attention or not (
                return_attention_scores or attention_mask is not None or (self.dropout and training)
            ):
                context, scores = self._fused_attention(queries, keys, values, attention_mask), None
            else:
                context, scores = self._attend(queries, keys, values, attention_mask, training)
            if self.use_gate:
                context = ops.multiply(context, self.gate_dense(query))
            output = self.output_dense(context)
        outputs = (
            (output,)
            + ((cache,) if cache is not None else ())
            + ((scores,) if return_attention_scores else ())
        )
        return outputs[0] if len(outputs) == 1 else outputs

    def _fused_attention(self, queries, keys, values, mask):
        # Nothing asks for the weights: Keras' fused attention (two einsums on TensorFlow, the backend's own
        # kernel elsewhere), as keras.layers.MultiHeadAttention takes it; measured in bench/vit_bench.py.
        # With flash attention the mask goes to the kernel too, and a fully masked row is the backend's.
        while mask is not None and len(mask.shape) < 4:
            mask = ops.expand_dims(mask, -3)
        return ops.dot_product_attention(
            queries,
            keys,
            values,
            mask=mask,
            scale=self._inverse_sqrt_key_dim,
            flash_attention=self._use_flash_attention,
        )

    def _attention_mask(
        self, queries, keys, query_mask, value_mask, key_mask, attention_mask, use_causal_mask, cache_index
    ):
        """Keras's `_compute_attention_mask`: the AND of every mask given, or None; `[B or 1, Tq, Tk]`."""
        query_length, key_length = ops.shape(queries)[1], ops.shape(keys)[1]
        start = 0 if cache_index is None else cache_index
        return intersect_masks(
            attention_mask,
            None if query_mask is None else ops.expand_dims(query_mask, -1),  # [B, Tq, 1]
            None if value_mask is None else ops.expand_dims(value_mask, -2),  # [B, 1, Tk]
            None if key_mask is None else ops.expand_dims(key_mask, -2),
            make_causal_mask(query_length, key_length, start) if use_causal_mask else None,
            None
            if self.sliding_window is None
            else make_sliding_window_mask(query_length, key_length, self.sliding_window, start),
        )

    def _attend(self, queries, keys, values, mask, training):
        """Projected `[B, T, heads, d]` tensors -> `(context [B, Tq, heads, d_v], weights [B, heads, Tq, Tk])`."""
        queries = ops.multiply(queries, ops.cast(self._inverse_sqrt_key_dim, queries.dtype))
        # Queries first: the TensorFlow backend runs this equation as two transposes and a batched matmul; the
        # keys-first equation of keras.layers.MultiHeadAttention costs a third transpose (same numbers).
        scores = ops.einsum("abcd,aecd->acbe", queries, keys)
        if mask is not None and len(mask.shape) == 3:
            mask = ops.expand_dims(mask, 1)  # [B, Tq, Tk] -> [B, 1, Tq, Tk], the same for every head
        weights = masked_softmax(scores, mask)
        if self.dropout:
            context = ops.einsum("acbe,aecd->abcd", self.dropout_layer(weights, training=training), values)
        else:
            context = ops.einsum("acbe,aecd->abcd", weights, values)
        return context, weights

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self.output_width,
            "attention_axes": self.attention_axes,
            "sliding_window": self.sliding_window,
            "flash_attention": self.flash_attention,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": keras.regularizers.serialize(self.projection_activity_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            "use_gate": self.use_gate,
            "seed": self.seed,
        }


def _check_attention_axes(attention_axes):
    """`attention_axes` of `[batch, length, width]` inputs: None or the length axis (1, or -2 as Keras counts
    negative axes over the projected `[batch, length, heads, dim]`), returned as Keras's config holds it."""
    axes = (attention_axes,) if isinstance(attention_axes, int) else attention_axes
    if axes is None:
        return None
    if not isinstance(axes, (list, tuple)) or tuple(a if a >= 0 else 3 + a for a in axes) != (1,):
        raise ConfigError(
            f"MultiHeadAttention: attention_axes={attention_axes!r} is not supported; keras-nn attends over the "
            "length axis of [batch, length, width] inputs only: use attention_axes=None (or 1), or "
            "keras.layers.MultiHeadAttention for attention over other axes"
        )
    return tuple(axes)
