"""`TransformerEncoderBlock`: one encoder layer of the Transformer (self-attention, feed-forward)."""

import keras

from keras_nn.layers.transformer.base import TransformerBlock, block_attention_mask, check_block_inputs


@keras.saving.register_keras_serializable(package="keras_nn")
class TransformerEncoderBlock(TransformerBlock):
    """One encoder layer of the Transformer: multi-head self-attention, then a position-wise feed-forward
    network `activation(x W1 + b1) W2 + b2`, each with a residual connection, layer normalization and dropout.

    It takes keras-hub `TransformerEncoder`'s arguments (`normalize_first` is `norm_first`; `num_heads` and
    `intermediate_dim` come in keras-nn's order when positional, so pass them by name) and treats Keras masks
    as it does: after `Embedding(mask_zero=True)` the padded tokens get no attention, an explicit
    `padding_mask` replaces the input's Keras mask for the keys, and the output carries the input's mask.
    Real positions equal keras-hub's with the same weights (tested); at a padded position keras-nn's query
    attends to nothing (as keras.layers.MultiHeadAttention's softmax path does), where keras-hub's fused
    attention averages every value.

    Args:
        num_heads: attention heads.
        intermediate_dim: width of the feed-forward hidden layer (`d_ff`, 2048 in the base model).
        dropout: dropout on each sublayer's output (before the residual sum) and on the attention weights.
        activation: the feed-forward activation (`"relu"` in the paper, `"gelu"` in BERT and GPT-2).
        norm_first: False for post-LN (paper, BERT), True for pre-LN (GPT-2); default False.
        layer_norm_epsilon: epsilon of the layer normalizations.
        key_dim: size of each head; default `width / num_heads`.
        drop_path_rate: stochastic depth (`DropPath`) on each residual branch in training (ViT/DeiT); 0 for
            none.
        kernel_initializer, bias_initializer: initializers of every attention and feed-forward projection
            (BERT's and GPT-2's N(0, 0.02) go here).
        normalize_first: keras-hub's name of `norm_first` (give either; they must agree if both are given).
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        inputs: `[batch, T, d_model]`, optionally with a Keras mask (`[batch, T]`, True at real tokens).
        padding_mask: optional `[batch, T]` booleans, True at real tokens (padded keys get no attention);
            default the Keras mask of `inputs`.
        attention_mask: optional `[batch, T, T]` booleans, True where position `i` may attend to `j`.
        training: dropout on or off.
        return_attention_scores: also return the self-attention weights `[batch, heads, T, T]`.

    Returns:
        `[batch, T, d_model]` (carrying the Keras mask of `inputs`), or `(outputs, scores)` with
        `return_attention_scores=True`.

    Example:
    >>> block = keras_nn.layers.TransformerEncoderBlock(num_heads=2, intermediate_dim=32)
    >>> block(np.zeros((2, 5, 16), "float32"), padding_mask=np.array([[1, 1, 1, 0, 0]] * 2, bool)).shape
    (2, 5, 16)

    References:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017, https://arxiv.org/abs/1706.03762.
        Xiong et al., "On Layer Normalization in the Transformer Architecture", ICML 2020 (pre-LN),
        https://arxiv.org/abs/2002.04745.
        Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016 (drop path),
        https://arxiv.org/abs/1603.09382.
    """

    def build(self, inputs_shape):
        check_block_inputs(type(self).__name__, inputs_shape)
        self.self_attention_layer = self._attention(inputs_shape[-1], "self_attention")
        self.self_attention_layer.build(inputs_shape, inputs_shape)
        self.self_attention_norm = self._norm("self_attention_norm")
        self.self_attention_norm.build(inputs_shape)
        self.self_attention_dropout = self._dropout("self_attention_dropout")
        self._build_feedforward(inputs_shape)

    def call(
        self, inputs, padding_mask=None, attention_mask=None, training=None, return_attention_scores=False
    ):
        mask = block_attention_mask(inputs, padding_mask, attention_mask)
        x, scores = self._residual(
            inputs,
            self.self_attention_norm,
            self.self_attention_dropout,
            # `h` keeps the Keras mask of `inputs`, which MultiHeadAttention applies to queries and keys.
            lambda h: self.self_attention_layer(
                h, h, attention_mask=mask, return_attention_scores=return_attention_scores, training=training
            ),
            training,
        )
        x = self._feedforward(x, training)
        return (x, scores[0]) if return_attention_scores else x
