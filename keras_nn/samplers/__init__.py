"""Decoding for every sequence generator: greedy search, beam search with the GNMT length penalty, and
sampling with temperature, top-k and top-p (nucleus) filtering.

The searches drive any step function (`step_fn(tokens, states, *static) -> (log_probs, states, attention)`),
so an RNN decoder and a cached Transformer decoder share them; `decode_in_batches` runs either over a batch of
sources in chunks. `sample_next_token` draws the next token of a language model from its logits. They run on
NumPy and `keras.ops`, so every Keras backend decodes with them; `jit` compiles a function for the backend, and
`compiled_for` (one fixed set per model) and `compiled_function` (named, built on demand) keep a model's.
"""

from keras_nn.samplers.batching import concatenate_steps, decode_in_batches
from keras_nn.samplers.beam import beam_search, length_penalty_factor
from keras_nn.samplers.compiled import compiled_for, compiled_function, jit
from keras_nn.samplers.graph_filters import filter_logits
from keras_nn.samplers.greedy import greedy_search
from keras_nn.samplers.sampling import check_sampling, sample_next_token
from keras_nn.samplers.steps import batch_size_of, to_numpy
from keras_nn.samplers.top_k import top_k_filter
from keras_nn.samplers.top_p import top_p_filter

__all__ = [
    "batch_size_of",
    "beam_search",
    "check_sampling",
    "compiled_for",
    "compiled_function",
    "concatenate_steps",
    "decode_in_batches",
    "filter_logits",
    "greedy_search",
    "jit",
    "length_penalty_factor",
    "sample_next_token",
    "to_numpy",
    "top_k_filter",
    "top_p_filter",
]
