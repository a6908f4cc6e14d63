"""GELU in its tanh approximation, the feed-forward activation of the original BERT and of GPT-2."""

import keras


@keras.saving.register_keras_serializable(package="keras_nn")
def gelu_approximate(x):
    """GELU in the tanh approximation of Hendrycks & Gimpel: `0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))`.

    The activation of Google's original BERT (`gelu` in its `modeling.py`) and of OpenAI's GPT-2 (Hugging Face's
    `gelu_new`), and of keras-hub's `BertBackbone` and `GPT2Backbone`; Keras's `"gelu"` is the exact, erf form
    (Hugging Face's BERT `"gelu"`). The two differ by up to about 5e-4 per activation.

    Example:
    >>> keras_nn.layers.gelu_approximate(np.array([1.0], "float32"))  # 0.8412, erf form 0.8413

    References:
        Hendrycks & Gimpel, "Gaussian Error Linear Units (GELUs)", 2016, https://arxiv.org/abs/1606.08415.
    """
    return keras.activations.gelu(x, approximate=True)
