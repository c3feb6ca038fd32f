"""The small models the chapters train, each with a hand-written backward pass.

Every model follows the one protocol of :func:`attn_core.training.loop.train`: its parameters
in a dict ``params``, ``forward(inputs) -> (logits, cache)`` with ``inputs`` a dict of integer
arrays, and ``backward(cache, grad_logits) -> grads``, one gradient per parameter. The public
``forward`` checks its inputs at the door (``check_inputs``: a missing key, a wrong shape,
an id outside the vocabulary are named); the training loop checks each data set once and then
calls the unchecked kernels ``_forward`` and ``_backward``. Weight matrices come from the one
initialiser, :func:`attn_core.training.init.init_weights`.

Five readers of the associative recall task (chapters 12 and 13) read the same inputs
(:func:`attn_core.experiments.data.associative_recall`): a sequence of (key, value) pairs and
a query key, and output one logit per possible value.

* :class:`AttentionReader` lets the query attend over all pairs (one attention layer).
* :class:`RecurrentReader` reads the pairs one at a time into a fixed-size state (an Elman
  network, with tanh; Hochreiter & Schmidhuber, 1997, and Bengio et al., 1994, for why its
  memory fades), then combines the final state with the query.
* :class:`PoolingReader` averages the pairs, ignoring the query while reading, then combines
  the average with the query: the same capacity as the recurrent reader's readout, no
  attention.
* :class:`DeepSetsReader` encodes each pair with a nonlinear layer before the average
  (Zaheer et al., 2017): still no attention, and still blind to the query while reading.
* :class:`GatedRecurrentReader` reads the pairs like the recurrent reader, with a gated
  recurrent unit (a GRU; Cho et al., 2014) in place of the Elman step.

The two recurrent readers can also read the query first (``query_first=True``), so that
their state knows what to keep. Every reader but the attention reader meets the query in
the same readout; its ``state(inputs)`` is the summary vector that readout sees, and the
recurrent readers' ``states(inputs)`` are their hidden states after every token.

Each pair is embedded as ``E[key] + E[n_keys + value]`` (the product of a one-hot code of
the pair with a table ``E``); embeddings are parameters like the rest.

Two more models carry one attention layer each:

* :class:`CrossAttentionAligner` (chapter 6): a one-layer encoder–decoder whose decoder reads
  the source through cross-attention;
* :class:`NextTokenModel` (chapter 7): a next-token predictor, with or without a causal mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import (
    as_float_array,
    as_int_array,
    choice,
    flag,
    nonnegative_int,
    positive_int,
)
from attn_core.attention import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from attn_core.training.init import _init_weights
from attn_core.training.losses import _embedding_backward

__all__ = ["AttentionReader", "RecurrentReader", "GatedRecurrentReader", "PoolingReader", "DeepSetsReader",
           "CrossAttentionAligner", "NextTokenModel"]


class _Model:
    """The protocol's shared half: checked ``forward``/``backward`` around the model's kernels.

    A subclass sets ``params`` and writes ``_fields`` (what ``check_inputs`` checks),
    ``_forward`` and ``_backward``.
    """

    params: dict[str, np.ndarray]

    def _fields(self, n_examples: int, inputs: dict[str, np.ndarray]) -> dict[str, tuple[tuple, int]]:
        """name -> (expected shape, number of ids) for every input the model reads, and labels."""
        raise NotImplementedError

    def check_inputs(self, inputs: Any, name: str = "inputs") -> dict[str, np.ndarray]:
        """Check a dict of inputs (and ``labels``, if present) and return it as arrays.

        Raises
        ------
        TypeError
            ``inputs`` not a dict, or an entry that is not an array of whole numbers.
        ValueError
            A missing entry, a wrong shape, or an id outside its vocabulary, each named.
        """
        if not isinstance(inputs, dict):
            raise TypeError(f"{name} must be a dict of name -> int array, got {type(inputs).__name__}")
        fields = self._fields(0, inputs)
        missing = [key for key in fields if key != "labels" and key not in inputs]
        if missing:
            raise ValueError(f"{name} has no {missing[0]!r}; {type(self).__name__} reads "
                             + ", ".join(repr(k) for k in fields if k != "labels"))
        first = next(iter(fields))
        leading = as_int_array(inputs[first], f"{name}[{first!r}]")
        if leading.ndim == 0 or leading.shape[0] == 0:
            raise ValueError(f"{name}[{first!r}] must hold at least one example; got shape {leading.shape}")
        fields = self._fields(leading.shape[0], inputs)
        checked = dict(inputs)
        for key, (shape, n_ids) in fields.items():
            if key not in inputs:
                continue
            array = as_int_array(inputs[key], f"{name}[{key!r}]")
            if array.shape != shape:
                raise ValueError(f"{name}[{key!r}] must have shape {shape}; got {array.shape}")
            checked[key] = as_int_array(array, f"{name}[{key!r}]", low=0, high=n_ids)
        return checked

    def forward(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        """Logits and the cache that :meth:`backward` needs; ``inputs`` checked at the door."""
        logits, cache = self._forward(self.check_inputs(inputs))
        cache["logits_shape"] = logits.shape
        return logits, cache

    def backward(self, cache: dict, grad_logits: ArrayLike) -> dict[str, np.ndarray]:
        """Gradients of the loss for every parameter, given ``dL/dlogits`` and ``forward``'s cache.

        Raises
        ------
        TypeError
            ``cache`` not a cache returned by :meth:`forward`; ``grad_logits`` not numbers.
        ValueError
            ``grad_logits`` not of the shape of the logits, or holding an infinity.
        """
        if not isinstance(cache, dict) or "logits_shape" not in cache:
            raise TypeError("cache must be the second value returned by this model's forward(), "
                            f"got {type(cache).__name__}")
        grad = as_float_array(grad_logits, "grad_logits", finite=True)
        if grad.shape != cache["logits_shape"]:
            raise ValueError(f"grad_logits must have the shape of the logits {cache['logits_shape']}; "
                             f"got {grad.shape}")
        return self._backward(cache, grad)

    def _forward(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        raise NotImplementedError

    def _backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def parameter_count(self) -> int:
        """Number of learned numbers in ``params``."""
        return sum(p.size for p in self.params.values())


def _embed_pairs(table: np.ndarray, keys: np.ndarray, values: np.ndarray, n_keys: int) -> np.ndarray:
    return table[keys] + table[n_keys + values]  # (B, L, d)


def _embed_pairs_backward(grad: np.ndarray, shape: tuple[int, ...], keys: np.ndarray,
                          values: np.ndarray, n_keys: int) -> np.ndarray:
    rows = np.concatenate([keys.reshape(-1), n_keys + values.reshape(-1)])
    return _embedding_backward(shape[0], rows, np.concatenate([grad.reshape(keys.size, -1)] * 2))


class _Reader(_Model):
    """Shared bookkeeping of the readers: vocabulary sizes, inputs, parameter count."""

    def __init__(self, n_keys: int, n_values: int, width: int):
        self.n_keys = positive_int(n_keys, "n_keys")
        self.n_values = positive_int(n_values, "n_values")
        self.width = positive_int(width, "width")
        self.params: dict[str, np.ndarray] = {}

    def _fields(self, n_examples: int, inputs: dict[str, np.ndarray]) -> dict[str, tuple[tuple, int]]:
        n_pairs = np.shape(inputs["keys"])[-1] if "keys" in inputs else 0
        return {"keys": ((n_examples, n_pairs), self.n_keys),
                "values": ((n_examples, n_pairs), self.n_values),
                "query": ((n_examples,), self.n_keys),
                "labels": ((n_examples,), self.n_values)}

    def check_inputs(self, inputs: Any, name: str = "inputs") -> dict[str, np.ndarray]:
        """Check ``keys``, ``values`` (n_examples, n_pairs), ``query`` and ``labels`` (n_examples,).

        Raises
        ------
        TypeError, ValueError
            As ``check_inputs`` of every model; a key outside ``0 .. n_keys - 1`` or a value
            (or label) outside ``0 .. n_values - 1`` is named with its index.
        """
        if isinstance(inputs, dict) and "keys" in inputs:
            keys = as_int_array(inputs["keys"], f"{name}['keys']")
            if keys.ndim != 2 or 0 in keys.shape:
                raise ValueError(f"{name}['keys'] must have shape (n_examples, n_pairs), both >= 1; "
                                 f"got {keys.shape}")
        return super().check_inputs(inputs, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(width={self.width}, parameters={self.parameter_count()})"


class AttentionReader(_Reader):
    """The query key attends over the pairs; the attended value is mapped to logits.

    Parameters
    ----------
    n_keys, n_values : int
        Vocabulary sizes of the task.
    width : int
        ``d``: width of queries, keys and values.
    seed : int

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> data = associative_recall(4, n_pairs=5, n_keys=8, n_values=4)
    >>> logits, cache = AttentionReader(8, 4, width=16).forward(data)
    >>> logits.shape, cache["weights"].shape
    ((4, 4), (4, 1, 5))
    """

    def __init__(self, n_keys: int, n_values: int, *, width: int = 32, seed: int = 0):
        super().__init__(n_keys, n_values, width)
        rng = np.random.default_rng(nonnegative_int(seed, "seed"))
        n_in = n_keys + n_values
        self.params = {
            "w_q": _init_weights(rng, n_keys, width),  # query key -> query vector
            "w_k": _init_weights(rng, n_in, width),  # pair -> key vector
            "w_v": _init_weights(rng, n_in, width),  # pair -> value vector
            "w_o": _init_weights(rng, width, n_values),  # attended value -> logits
            "b_o": np.zeros(n_values),
        }

    def _forward(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        p = self.params
        q = p["w_q"][data["query"]][:, None, :]  # (B, 1, d)
        k = _embed_pairs(p["w_k"], data["keys"], data["values"], self.n_keys)  # (B, L, d)
        v = _embed_pairs(p["w_v"], data["keys"], data["values"], self.n_keys)  # (B, L, d)
        read, weights = scaled_dot_product_attention(q, k, v)  # (B, 1, d), (B, 1, L)
        logits = read[:, 0] @ p["w_o"] + p["b_o"]  # (B, n_values)
        return logits, {"q": q, "k": k, "v": v, "read": read, "weights": weights, "data": data}

    def _backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        p, data = self.params, cache["data"]
        grads = {"w_o": cache["read"][:, 0].T @ grad_logits, "b_o": grad_logits.sum(0)}
        grad_read = (grad_logits @ p["w_o"].T)[:, None, :]  # (B, 1, d)
        gq, gk, gv = scaled_dot_product_attention_backward(
            cache["q"], cache["k"], cache["v"], cache["weights"], grad_read)
        grads["w_q"] = _embedding_backward(self.n_keys, data["query"], gq[:, 0])
        grads["w_k"] = _embed_pairs_backward(gk, p["w_k"].shape, data["keys"], data["values"], self.n_keys)
        grads["w_v"] = _embed_pairs_backward(gv, p["w_v"].shape, data["keys"], data["values"], self.n_keys)
        return grads


class _QueryReadout(_Reader):
    """Readout shared by the baselines: ``logits = tanh(state W_1 + E_q[query] + b_1) W_2 + b_2``.

    A subclass's ``_forward`` puts the summary vector it hands the readout in its cache as
    ``"state"``.
    """

    def state(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The summary vector the readout sees, one row per example (e.g. for a linear probe).

        The final hidden state of a recurrent reader, the pooled vector of a pooling one.

        Parameters
        ----------
        inputs : dict
            ``keys``, ``values`` (n_examples, n_pairs) and ``query`` (n_examples,), as for
            ``forward``; ``labels`` are checked if present.

        Returns
        -------
        ndarray, shape (n_examples, state_width)

        Raises
        ------
        TypeError, ValueError
            As ``check_inputs``.

        Examples
        --------
        >>> from attn_core.experiments.data import associative_recall
        >>> data = associative_recall(3, n_pairs=4, n_keys=5, n_values=2)
        >>> PoolingReader(5, 2, width=6).state(data).shape
        (3, 6)
        """
        return self._forward(self.check_inputs(inputs))[1]["state"]

    def _readout_params(self, rng: np.random.Generator, state_width: int) -> None:
        self.params.update({
            "w_query": _init_weights(rng, self.n_keys, self.width),
            "w_1": _init_weights(rng, state_width, self.width),
            "b_1": np.zeros(self.width),
            "w_2": _init_weights(rng, self.width, self.n_values),
            "b_2": np.zeros(self.n_values),
        })

    def _readout(self, state: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        z = np.tanh(state @ p["w_1"] + p["w_query"][query] + p["b_1"])  # (B, width)
        return z @ p["w_2"] + p["b_2"], z

    def _readout_backward(self, state: np.ndarray, z: np.ndarray, query: np.ndarray,
                          grad_logits: np.ndarray) -> tuple[dict, np.ndarray]:
        p = self.params
        grads = {"w_2": z.T @ grad_logits, "b_2": grad_logits.sum(0)}
        grad_pre = (grad_logits @ p["w_2"].T) * (1 - z**2)  # through tanh
        grads["w_1"], grads["b_1"] = state.T @ grad_pre, grad_pre.sum(0)
        grads["w_query"] = _embedding_backward(self.n_keys, query, grad_pre)
        return grads, grad_pre @ p["w_1"].T  # gradient with respect to the state


def _token_sequence(table: np.ndarray, data: dict[str, np.ndarray], n_keys: int,
                    query_first: bool) -> np.ndarray:
    """The recurrent readers' input tokens: the pairs' embeddings, after the query's if ``query_first``.

    The query token is its key's row of the same table (no value row added).
    """
    x = _embed_pairs(table, data["keys"], data["values"], n_keys)  # (B, L, d)
    if query_first:
        x = np.concatenate([table[data["query"]][:, None, :], x], axis=1)  # (B, 1 + L, d)
    return x


def _token_sequence_backward(grad: np.ndarray, shape: tuple[int, ...], data: dict[str, np.ndarray],
                             n_keys: int, query_first: bool) -> np.ndarray:
    """Gradient of the table from the gradient of :func:`_token_sequence`'s output (B, T, d)."""
    if not query_first:
        return _embed_pairs_backward(grad, shape, data["keys"], data["values"], n_keys)
    return (_embed_pairs_backward(grad[:, 1:], shape, data["keys"], data["values"], n_keys)
            + _embedding_backward(shape[0], data["query"], grad[:, 0]))


class _SequenceReader(_QueryReadout):
    """What the two recurrent readers share: the token sequence and the states after each token.

    A subclass's ``_forward`` keeps its hidden states ``h_0 = 0, h_1, ..., h_T`` in its cache
    as ``"hs"``.
    """

    query_first: bool

    def states(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The hidden state after every input token: ``h_1, ..., h_T`` (``h_0 = 0`` left out).

        ``T`` is the number of pairs, plus one when the query is read first (then
        ``states[:, 0]`` is the state after the query, ``states[:, t]`` after pair ``t - 1``).

        Parameters
        ----------
        inputs : dict
            ``keys``, ``values`` (n_examples, n_pairs) and ``query`` (n_examples,), as for
            ``forward``.

        Returns
        -------
        ndarray, shape (n_examples, T, width)

        Raises
        ------
        TypeError, ValueError
            As ``check_inputs``.

        Examples
        --------
        >>> from attn_core.experiments.data import associative_recall
        >>> data = associative_recall(3, n_pairs=4, n_keys=5, n_values=2)
        >>> RecurrentReader(5, 2, width=6).states(data).shape
        (3, 4, 6)
        >>> RecurrentReader(5, 2, width=6, query_first=True).states(data).shape   # the query, then 4 pairs
        (3, 5, 6)
        """
        return np.stack(self._forward(self.check_inputs(inputs))[1]["hs"][1:], axis=1)  # (N, T, d)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(width={self.width}, parameters={self.parameter_count()}"
                + (", query_first=True)" if self.query_first else ")"))


class RecurrentReader(_SequenceReader):
    """An Elman network reads the pairs into a fixed-size state, then the readout meets the query.

    ``h_t = tanh(x_t + h_{t-1} W_h + b_h)``, ``h_0 = 0``, with ``x_t`` the pair's embedding.
    The backward pass is backpropagation through time.

    Parameters
    ----------
    n_keys, n_values : int
        Vocabulary sizes of the task.
    width : int, default 32
        ``d``: width of the state (and of the readout's hidden layer).
    seed : int, default 0
    query_first : bool, default False
        Read the query key before the pairs (its row of the embedding table is the first
        input ``x_1``), so the state knows, while it reads, which value to keep. The readout
        still meets the query at the end, as without.

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> data = associative_recall(4, n_pairs=5, n_keys=8, n_values=4)
    >>> RecurrentReader(8, 4, width=16).forward(data)[0].shape
    (4, 4)
    """

    def __init__(self, n_keys: int, n_values: int, *, width: int = 32, seed: int = 0, query_first: bool = False):
        super().__init__(n_keys, n_values, width)
        self.query_first = flag(query_first, "query_first")
        rng = np.random.default_rng(nonnegative_int(seed, "seed"))
        self.params = {
            "w_x": _init_weights(rng, n_keys + n_values, width),
            "w_h": np.eye(width) * 0.5 + _init_weights(rng, width, width) * 0.5,
            "b_h": np.zeros(width),
        }
        self._readout_params(rng, width)

    def _forward(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        p = self.params
        x = _token_sequence(p["w_x"], data, self.n_keys, self.query_first)  # (B, T, d)
        hs = [np.zeros((x.shape[0], self.width))]
        for t in range(x.shape[1]):
            hs.append(np.tanh(x[:, t] + hs[-1] @ p["w_h"] + p["b_h"]))  # (B, d)
        logits, z = self._readout(hs[-1], data["query"])
        return logits, {"hs": hs, "state": hs[-1], "z": z, "data": data}

    def _backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        p, hs, data = self.params, cache["hs"], cache["data"]
        grads, grad_h = self._readout_backward(hs[-1], cache["z"], data["query"], grad_logits)
        grads["w_h"], grads["b_h"] = np.zeros_like(p["w_h"]), np.zeros_like(p["b_h"])
        grad_x = np.zeros((grad_logits.shape[0], len(hs) - 1, self.width))
        for t in range(len(hs) - 1, 0, -1):  # backpropagation through time
            grad_pre = grad_h * (1 - hs[t] ** 2)  # (B, d)
            grads["w_h"] += hs[t - 1].T @ grad_pre
            grads["b_h"] += grad_pre.sum(0)
            grad_x[:, t - 1] = grad_pre
            grad_h = grad_pre @ p["w_h"].T
        grads["w_x"] = _token_sequence_backward(grad_x, p["w_x"].shape, data, self.n_keys, self.query_first)
        return grads


def _sigmoid(a: np.ndarray) -> np.ndarray:
    """The logistic function, written through tanh so that no exponential overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _gru_step(x_t: np.ndarray, h_prev: np.ndarray, w_h_gates: np.ndarray,
              w_h_candidate: np.ndarray) -> tuple[np.ndarray, tuple]:
    """One GRU step for a batch: ``x_t`` (B, 3d) already holds ``x W + b`` of the three parts."""
    d = h_prev.shape[1]
    gates = _sigmoid(x_t[:, :2 * d] + h_prev @ w_h_gates)  # (B, 2d): update z | reset r
    update, reset = gates[:, :d], gates[:, d:]
    candidate = np.tanh(x_t[:, 2 * d:] + (reset * h_prev) @ w_h_candidate)  # (B, d)
    h = update * h_prev + (1 - update) * candidate  # (B, d): z keeps, 1 - z writes
    return h, (h_prev, update, reset, candidate)


def _gru_step_backward(grad_h: np.ndarray, step: tuple, w_h_gates: np.ndarray, w_h_candidate: np.ndarray,
                       grads: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The same step backwards: adds to ``grads``' two state matrices, returns dL/dh_prev and dL/dx_t."""
    h_prev, update, reset, candidate = step
    grad_candidate = grad_h * (1 - update) * (1 - candidate**2)  # (B, d): through tanh
    grad_update = grad_h * (h_prev - candidate) * update * (1 - update)  # (B, d): through sigmoid
    grads["w_h_candidate"] += (reset * h_prev).T @ grad_candidate  # (d, d)
    grad_reset_h = grad_candidate @ w_h_candidate.T  # (B, d): dL/d(r * h_prev)
    grad_reset = grad_reset_h * h_prev * reset * (1 - reset)  # (B, d)
    grad_gates = np.concatenate([grad_update, grad_reset], axis=1)  # (B, 2d)
    grads["w_h_gates"] += h_prev.T @ grad_gates  # (d, 2d)
    grad_h_prev = grad_h * update + grad_reset_h * reset + grad_gates @ w_h_gates.T  # (B, d)
    return grad_h_prev, np.concatenate([grad_gates, grad_candidate], axis=1)  # (B, d), (B, 3d)


class GatedRecurrentReader(_SequenceReader):
    r"""A gated recurrent unit (GRU; Cho et al., 2014) reads the pairs, then the readout meets the query.

    It reads the same tokens as :class:`RecurrentReader` (the pairs' embeddings, after the
    query's with ``query_first=True``) and has the same readout; only the step differs. With
    :math:`\sigma` the logistic function and :math:`h_0 = 0`:

    .. math::
        z_t &= \sigma(x_t W_z + h_{t-1} U_z + b_z) \\
        r_t &= \sigma(x_t W_r + h_{t-1} U_r + b_r) \\
        \tilde h_t &= \tanh\big(x_t W_c + (r_t \odot h_{t-1}) U_c + b_c\big) \\
        h_t &= z_t \odot h_{t-1} + (1 - z_t) \odot \tilde h_t

    with the update gate :math:`z_t`, the reset gate :math:`r_t` and the candidate state
    :math:`\tilde h_t`. This is the convention of Cho et al. (2014): :math:`z_t` near 1 *keeps*
    the old state (some texts swap :math:`z_t` and :math:`1 - z_t`), and the reset gate
    multiplies the old state *before* :math:`U_c` (PyTorch's ``nn.GRU`` resets after it,
    :math:`r_t \odot (h_{t-1} U_c + b')`, a variant of equal standing). The derivative of
    :math:`h_t` with respect to :math:`h_{t-1}` holds the term :math:`\operatorname{diag}(z_t)`,
    with no weight matrix in it: where the update gate stays near 1, a value and its gradient
    pass through many steps nearly unchanged. Backpropagation through time is written by hand,
    one step's backward next to its forward.

    Parameters
    ----------
    n_keys, n_values : int
        Vocabulary sizes of the task.
    width : int, default 32
        ``d``: width of the state (and of the readout's hidden layer).
    seed : int, default 0
    query_first : bool, default False
        Read the query key before the pairs, as :class:`RecurrentReader` does.

    Attributes
    ----------
    params : dict of name -> ndarray
        ``w_x`` (n_keys + n_values, 3d): the token's contribution to the update gate, reset
        gate and candidate, in three column blocks (a pair's is the sum of its key's row and
        its value's row, as in every reader); ``w_h_gates`` (d, 2d) holds ``[U_z | U_r]``,
        ``w_h_candidate`` (d, d) is ``U_c``, ``b`` (3d,) is ``[b_z | b_r | b_c]``; then the
        readout's ``w_query``, ``w_1``, ``b_1``, ``w_2``, ``b_2``.

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> data = associative_recall(4, n_pairs=5, n_keys=8, n_values=4)
    >>> model = GatedRecurrentReader(8, 4, width=16)
    >>> model.forward(data)[0].shape, model.states(data).shape
    ((4, 4), (4, 5, 16))
    """

    def __init__(self, n_keys: int, n_values: int, *, width: int = 32, seed: int = 0, query_first: bool = False):
        super().__init__(n_keys, n_values, width)
        self.query_first = flag(query_first, "query_first")
        rng = np.random.default_rng(nonnegative_int(seed, "seed"))
        self.params = {
            "w_x": _init_weights(rng, n_keys + n_values, 3 * width),
            "w_h_gates": _init_weights(rng, width, 2 * width),
            "w_h_candidate": _init_weights(rng, width, width),
            "b": np.zeros(3 * width),
        }
        self._readout_params(rng, width)

    def _forward(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        p = self.params
        x = _token_sequence(p["w_x"], data, self.n_keys, self.query_first) + p["b"]  # (B, T, 3d)
        hs, steps = [np.zeros((x.shape[0], self.width))], []
        for t in range(x.shape[1]):
            h, step = _gru_step(x[:, t], hs[-1], p["w_h_gates"], p["w_h_candidate"])
            hs.append(h)
            steps.append(step)
        logits, z = self._readout(hs[-1], data["query"])
        return logits, {"hs": hs, "steps": steps, "state": hs[-1], "z": z, "data": data}

    def _backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        p, data, steps = self.params, cache["data"], cache["steps"]
        grads, grad_h = self._readout_backward(cache["state"], cache["z"], data["query"], grad_logits)
        grads["w_h_gates"] = np.zeros_like(p["w_h_gates"])
        grads["w_h_candidate"] = np.zeros_like(p["w_h_candidate"])
        grad_x = np.zeros((grad_logits.shape[0], len(steps), 3 * self.width))  # (B, T, 3d)
        for t in range(len(steps) - 1, -1, -1):  # backpropagation through time
            grad_h, grad_x[:, t] = _gru_step_backward(grad_h, steps[t], p["w_h_gates"], p["w_h_candidate"], grads)
        grads["b"] = grad_x.sum(axis=(0, 1))
        grads["w_x"] = _token_sequence_backward(grad_x, p["w_x"].shape, data, self.n_keys, self.query_first)
        return grads


class PoolingReader(_QueryReadout):
    """Average the pairs' embeddings (no attention), then the readout meets the query.

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> data = associative_recall(4, n_pairs=5, n_keys=8, n_values=4)
    >>> PoolingReader(8, 4, width=16).forward(data)[0].shape
    (4, 4)
    """

    def __init__(self, n_keys: int, n_values: int, *, width: int = 32, seed: int = 0):
        super().__init__(n_keys, n_values, width)
        rng = np.random.default_rng(nonnegative_int(seed, "seed"))
        self.params = {"w_x": _init_weights(rng, n_keys + n_values, width)}
        self._readout_params(rng, width)

    def _forward(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        x = _embed_pairs(self.params["w_x"], data["keys"], data["values"], self.n_keys)  # (B, L, d)
        pooled = x.mean(axis=1)  # (B, d): every pair counts the same, whatever the query
        logits, z = self._readout(pooled, data["query"])
        return logits, {"pooled": pooled, "state": pooled, "z": z, "length": x.shape[1], "data": data}

    def _backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        data = cache["data"]
        grads, grad_pooled = self._readout_backward(cache["pooled"], cache["z"], data["query"], grad_logits)
        grad_x = np.repeat(grad_pooled[:, None, :] / cache["length"], cache["length"], axis=1)  # (B, L, d)
        grads["w_x"] = _embed_pairs_backward(grad_x, self.params["w_x"].shape, data["keys"], data["values"], self.n_keys)
        return grads


class DeepSetsReader(_QueryReadout):
    r"""Encode each pair with a nonlinear layer, average the codes, then the readout meets the query.

    Deep Sets (Zaheer et al., 2017): a function of a set written as
    :math:`\rho(\frac1L \sum_j \phi(x_j))`. Here

    .. math:: h_j = \tanh(x_j W_E + b_E), \qquad s = \frac{1}{L} \sum_{j=1}^{L} h_j,

    with :math:`x_j` the pair's embedding (as in :class:`PoolingReader`), and :math:`\rho` the
    readout that every baseline shares, which meets the query only after the average. Unlike the
    plain average, the code :math:`h_j` is not linear in the pair, so the average can keep
    products of a pair's key and value (which value came with which key); it still reads every
    pair the same way, whatever the query.

    Parameters
    ----------
    n_keys, n_values : int
        Vocabulary sizes of the task.
    width : int, default 32
        ``d``: width of the pair embeddings ``x_j`` (and of the readout's hidden layer).
    encoder_width : int, default 64
        ``m``: width of the codes ``h_j``, and so of the pooled vector ``s``; ``W_E`` is
        ``(d, m)``.
    seed : int, default 0

    Attributes
    ----------
    params : dict of name -> ndarray
        ``w_x`` (n_keys + n_values, d), ``w_e`` (d, m), ``b_e`` (m,), then the readout's
        ``w_query`` (n_keys, d), ``w_1`` (m, d), ``b_1`` (d,), ``w_2`` (d, n_values), ``b_2``.

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> data = associative_recall(4, n_pairs=5, n_keys=8, n_values=4)
    >>> model = DeepSetsReader(8, 4, width=16, encoder_width=24)
    >>> model.forward(data)[0].shape, model.state(data).shape
    ((4, 4), (4, 24))
    """

    def __init__(self, n_keys: int, n_values: int, *, width: int = 32, encoder_width: int = 64, seed: int = 0):
        super().__init__(n_keys, n_values, width)
        self.encoder_width = positive_int(encoder_width, "encoder_width")
        rng = np.random.default_rng(nonnegative_int(seed, "seed"))
        self.params = {
            "w_x": _init_weights(rng, n_keys + n_values, width),
            "w_e": _init_weights(rng, width, self.encoder_width),
            "b_e": np.zeros(self.encoder_width),
        }
        self._readout_params(rng, self.encoder_width)

    def __repr__(self) -> str:
        return (f"DeepSetsReader(width={self.width}, encoder_width={self.encoder_width}, "
                f"parameters={self.parameter_count()})")

    def _forward(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        p = self.params
        x = _embed_pairs(p["w_x"], data["keys"], data["values"], self.n_keys)  # (B, L, d)
        codes = np.tanh(x @ p["w_e"] + p["b_e"])  # (B, L, m): each pair on its own
        pooled = codes.mean(axis=1)  # (B, m)
        logits, z = self._readout(pooled, data["query"])
        return logits, {"x": x, "codes": codes, "state": pooled, "z": z, "data": data}

    def _backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        p, data, x, codes = self.params, cache["data"], cache["x"], cache["codes"]
        grads, grad_pooled = self._readout_backward(cache["state"], cache["z"], data["query"], grad_logits)
        grad_pre = grad_pooled[:, None, :] / x.shape[1] * (1 - codes**2)  # (B, L, m): mean, then tanh
        grads["w_e"] = np.einsum("bld,blm->dm", x, grad_pre)  # (d, m)
        grads["b_e"] = grad_pre.sum(axis=(0, 1))
        grad_x = grad_pre @ p["w_e"].T  # (B, L, d)
        grads["w_x"] = _embed_pairs_backward(grad_x, p["w_x"].shape, data["keys"], data["values"], self.n_keys)
        return grads


class CrossAttentionAligner(_Model):
    """A one-layer encoder–decoder whose decoder reads the source through cross-attention.

    * encoder: ``X_enc[j] = E_src[x_j] + P_src[j]``, one vector per source symbol (embedding
      plus position), all kept;
    * decoder state at step ``t``: ``X_dec[t] = E_tgt[y_{t-1}] + P_tgt[t]``, the previous
      target symbol (a start symbol at ``t = 0``) and the step;
    * one cross-attention layer, ``Q = X_dec W_Q``, ``K = X_enc W_K``, ``V = X_enc W_V``,
      ``A = softmax(Q K^T / sqrt(d))``; with ``scores="location"`` the queries and keys see
      positions only, ``Q = P_tgt W_Q`` and ``K = P_src W_K``, so the map cannot depend on
      the symbols (the values still carry them): a location-based baseline;
    * a readout ``logits[t] = (A V)[t] W_O + b_O`` over the symbols.

    Parameters
    ----------
    length : int
        Sequence length ``L`` (the position tables have ``L`` rows).
    n_symbols : int
        Vocabulary size; the decoder's start symbol is ``n_symbols``.
    width : int, default 16
        ``d``: width of the embeddings, queries, keys and values.
    source_positions : bool, default True
        Whether the encoder adds its position table ``P_src``. Without it the keys and
        values hold only what the symbols are, not where they stand.
    scores : {"content", "location"}, default "content"
        What the queries and keys are computed from: the symbols and their positions, or
        the positions alone (which needs ``source_positions=True``).
    seed : int, default 0

    Attributes
    ----------
    params : dict of name -> ndarray
        ``src_embed`` (n_symbols, d), ``src_pos`` (L, d), ``tgt_embed`` (n_symbols + 1, d),
        ``tgt_pos`` (L, d), ``w_q``, ``w_k``, ``w_v`` (d, d), ``w_o`` (d, n_symbols),
        ``b_o`` (n_symbols,).

    Examples
    --------
    >>> source = np.array([[0, 1, 2, 3], [3, 2, 1, 0], [1, 0, 3, 2]])
    >>> inputs = {"source": source, "decoder_input": np.full((3, 4), 6)}
    >>> model = CrossAttentionAligner(4, 6, width=8)
    >>> logits, cache = model.forward(inputs)
    >>> logits.shape, cache["weights"].shape     # (N * L_t, symbols), (N, L_t, L_s)
    ((12, 6), (3, 4, 4))
    """

    def __init__(self, length: int, n_symbols: int, *, width: int = 16, source_positions: bool = True,
                 scores: str = "content", seed: int = 0):
        self.length = positive_int(length, "length")
        self.n_symbols = positive_int(n_symbols, "n_symbols")
        self.width = positive_int(width, "width")
        self.source_positions = flag(source_positions, "source_positions")
        self.scores = choice(scores, ("content", "location"), "scores")
        if self.scores == "location" and not self.source_positions:
            raise ValueError("scores='location' needs source_positions=True: the keys are the positions")
        rng = np.random.default_rng(nonnegative_int(seed, "seed"))
        d = self.width
        self.params = {
            "src_embed": rng.normal(0.0, 1.0, (n_symbols, d)),
            "src_pos": rng.normal(0.0, 1.0, (length, d)) if self.source_positions else np.zeros((length, d)),
            "tgt_embed": rng.normal(0.0, 1.0, (n_symbols + 1, d)),
            "tgt_pos": rng.normal(0.0, 1.0, (length, d)),
            "w_q": _init_weights(rng, d, d),
            "w_k": _init_weights(rng, d, d),
            "w_v": _init_weights(rng, d, d),
            "w_o": _init_weights(rng, d, n_symbols),
            "b_o": np.zeros(n_symbols),
        }

    def __repr__(self) -> str:
        return (f"CrossAttentionAligner(length={self.length}, width={self.width}, scores={self.scores!r}, "
                f"parameters={self.parameter_count()})")

    def _fields(self, n_examples: int, inputs: dict[str, np.ndarray]) -> dict[str, tuple[tuple, int]]:
        shape = (n_examples, self.length)
        return {"source": (shape, self.n_symbols),
                "decoder_input": (shape, self.n_symbols + 1),  # + the start symbol
                "labels": (shape, self.n_symbols)}

    def check_inputs(self, inputs: Any, name: str = "inputs") -> dict[str, np.ndarray]:
        """Check ``source`` (N, L) in ``0 .. n_symbols - 1``, ``decoder_input`` (N, L) in
        ``0 .. n_symbols`` (the start symbol included) and ``labels`` (N, L), if present.

        Raises
        ------
        TypeError, ValueError
            As ``check_inputs`` of every model.
        """
        return super().check_inputs(inputs, name)

    def forward(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        """Logits for every target position, and what the backward pass needs.

        Parameters
        ----------
        inputs : dict
            ``source`` and ``decoder_input``, int arrays (N, L), as from
            :func:`attn_core.experiments.self_cross.reordering_data`.

        Returns
        -------
        logits : ndarray, shape (N * L, n_symbols)
            Row ``b * L + t`` scores the symbols for example ``b``, target position ``t``.
        cache : dict
            Includes ``weights`` (N, L_t, L_s), the cross-attention map of every example.
        """
        return super().forward(inputs)

    def _forward(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        p = self.params
        x_enc = p["src_embed"][data["source"]]  # (N, L_s, d)
        if self.source_positions:  # without, P_src stays zero and out of the loss
            x_enc = x_enc + p["src_pos"]  # (N, L_s, d)
        x_dec = p["tgt_embed"][data["decoder_input"]] + p["tgt_pos"]  # (N, L_t, d)
        if self.scores == "location":  # queries and keys from positions alone
            q = np.broadcast_to(p["tgt_pos"] @ p["w_q"], x_dec.shape)  # (N, L_t, d)
            k = np.broadcast_to(p["src_pos"] @ p["w_k"], x_enc.shape)  # (N, L_s, d)
        else:
            q = x_dec @ p["w_q"]  # (N, L_t, d)
            k = x_enc @ p["w_k"]  # (N, L_s, d)
        v = x_enc @ p["w_v"]  # (N, L_s, d)
        read, weights = scaled_dot_product_attention(q, k, v)  # (N, L_t, d), (N, L_t, L_s)
        flat = read.reshape(-1, self.width)  # (N * L_t, d)
        logits = flat @ p["w_o"] + p["b_o"]  # (N * L_t, n_symbols)
        cache = {"x_enc": x_enc, "x_dec": x_dec, "q": q, "k": k, "v": v, "flat": flat,
                 "weights": weights, "data": data}
        return logits, cache

    def _backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        p, data = self.params, cache["data"]
        grads = {"w_o": cache["flat"].T @ grad_logits, "b_o": grad_logits.sum(0)}
        grad_read = (grad_logits @ p["w_o"].T).reshape(cache["q"].shape)  # (N, L_t, d)
        gq, gk, gv = scaled_dot_product_attention_backward(
            cache["q"], cache["k"], cache["v"], cache["weights"], grad_read)  # each (N, L, d)
        grads["w_v"] = np.einsum("nsi,nsj->ij", cache["x_enc"], gv)  # (d, d)
        if self.scores == "location":  # Q = P_tgt W_Q, K = P_src W_K: no symbol in the scores
            gq_pos, gk_pos = gq.sum(0), gk.sum(0)  # (L_t, d), (L_s, d)
            grads["w_q"] = p["tgt_pos"].T @ gq_pos  # (d, d)
            grads["w_k"] = p["src_pos"].T @ gk_pos  # (d, d)
            grad_enc = gv @ p["w_v"].T  # (N, L_s, d): through the values only
            grads["tgt_pos"] = gq_pos @ p["w_q"].T  # (L, d)
            grads["src_pos"] = gk_pos @ p["w_k"].T + grad_enc.sum(0)  # (L, d)
            grads["tgt_embed"] = np.zeros_like(p["tgt_embed"])  # the decoder's symbols are not read
            grads["src_embed"] = _embedding_backward(len(p["src_embed"]), data["source"], grad_enc)
            return grads
        grads["w_q"] = np.einsum("nti,ntj->ij", cache["x_dec"], gq)  # (d, d): sum of X_dec^T dQ
        grads["w_k"] = np.einsum("nsi,nsj->ij", cache["x_enc"], gk)  # (d, d)
        grad_dec = gq @ p["w_q"].T  # (N, L_t, d)
        grad_enc = gk @ p["w_k"].T + gv @ p["w_v"].T  # (N, L_s, d)
        grads["tgt_pos"] = grad_dec.sum(0)  # (L, d)
        grads["src_pos"] = grad_enc.sum(0) if self.source_positions else np.zeros_like(p["src_pos"])
        grads["tgt_embed"] = _embedding_backward(len(p["tgt_embed"]), data["decoder_input"], grad_dec)
        grads["src_embed"] = _embedding_backward(len(p["src_embed"]), data["source"], grad_enc)
        return grads

    def decode(self, source: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Greedy decoding: each step feeds the symbol the model chose at the step before.

        Parameters
        ----------
        source : array_like of int, shape (N, L), entries in ``0 .. n_symbols - 1``

        Returns
        -------
        output : ndarray of int, shape (N, L)
        weights : ndarray, shape (N, L_t, L_s)
            The cross-attention map of the steps as they were decoded.

        Raises
        ------
        TypeError, ValueError
            ``source`` not whole numbers of shape (N, L) within the vocabulary.

        Examples
        --------
        >>> model = CrossAttentionAligner(3, 5, width=4)
        >>> out, w = model.decode(np.array([[0, 1, 2]]))
        >>> out.shape, w.shape
        ((1, 3), (1, 3, 3))
        """
        source = as_int_array(source, "source", ndim=2)
        decoder_input = np.full(source.shape, self.n_symbols)  # (N, L): start symbols
        source = self.check_inputs({"source": source, "decoder_input": decoder_input}, "decode")["source"]
        output = np.zeros(source.shape, dtype=int)
        weights = np.zeros(source.shape + (self.length,))
        for t in range(self.length):  # step t only sees decoder inputs 0..t
            logits, cache = self._forward({"source": source, "decoder_input": decoder_input})
            output[:, t] = logits.reshape(*source.shape, -1)[:, t].argmax(-1)
            weights[:, t] = cache["weights"][:, t]
            if t + 1 < self.length:
                decoder_input[:, t + 1] = output[:, t]
        return output, weights


class NextTokenModel(_Model):
    r"""One attention layer and a linear read-out that predicts the next token at every position.

    .. math:: X = E[\text{tokens}] + P, \quad
              O = \operatorname{Attention}(X W_Q, X W_K, X W_V), \quad
              \text{logits} = O W_O + b_O

    with a learned token table ``E`` and a learned vector per position ``P``. Row ``t`` of
    the logits predicts token ``t + 1``. With ``positions="none"`` there is no ``P``
    (``X = E[tokens]``): without a causal mask the model then cannot tell positions apart at
    all, and with one it can still infer them from how many keys each query sees (Haviv et
    al., 2022; chapter 9).

    Parameters
    ----------
    vocab : int
        Number of distinct tokens.
    n_positions : int
        Longest sequence the model reads.
    width : int, default 16
        ``d``: width of the token vectors, queries, keys and values.
    causal : bool, default True
        Whether position ``t`` may attend only to positions ``<= t``.
    seed : int, default 0
        Seeds the initial parameters.
    positions : {"learned", "none"}, default "learned"
        A learned vector per position added to the tokens, or no position information.

    Attributes
    ----------
    params : dict of name -> ndarray
        ``token`` (vocab, d), ``position`` (n_positions, d; only with learned positions),
        ``w_q``, ``w_k``, ``w_v`` (d, d), ``w_o`` (d, vocab), ``b_o`` (vocab,).

    Examples
    --------
    >>> model = NextTokenModel(vocab=5, n_positions=6, width=8)
    >>> logits, cache = model.forward({"tokens": np.array([[0, 1, 2, 0, 1, 2]])})
    >>> logits.shape, cache["weights"].shape     # tokens 1..5 predicted; 6 x 6 weights
    ((1, 5, 5), (1, 6, 6))
    """

    def __init__(self, vocab: int, n_positions: int, *, width: int = 16, causal: bool = True, seed: int = 0,
                 positions: str = "learned"):
        self.vocab = positive_int(vocab, "vocab")
        self.n_positions = positive_int(n_positions, "n_positions")
        self.width = positive_int(width, "width")
        self.causal = flag(causal, "causal")
        self.positions = choice(positions, ("learned", "none"), "positions")
        rng = np.random.default_rng(nonnegative_int(seed, "seed"))
        d = self.width
        self.params = {
            "token": rng.standard_normal((self.vocab, d)),
            "position": rng.standard_normal((self.n_positions, d)),
            "w_q": _init_weights(rng, d, d),
            "w_k": _init_weights(rng, d, d),
            "w_v": _init_weights(rng, d, d),
            "w_o": _init_weights(rng, d, self.vocab),
            "b_o": np.zeros(self.vocab),
        }
        if self.positions == "none":
            del self.params["position"]  # drawn all the same, so the other parameters match

    def __repr__(self) -> str:
        return (f"NextTokenModel(vocab={self.vocab}, n_positions={self.n_positions}, "
                f"width={self.width}, causal={self.causal}"
                + (")" if self.positions == "learned" else f", positions={self.positions!r})"))

    def _fields(self, n_examples: int, inputs: dict[str, np.ndarray]) -> dict[str, tuple[tuple, int]]:
        n = np.shape(inputs["tokens"])[-1] if "tokens" in inputs else 0
        return {"tokens": ((n_examples, n), self.vocab), "labels": ((n_examples, n - 1), self.vocab)}

    def check_inputs(self, inputs: Any, name: str = "inputs") -> dict[str, np.ndarray]:
        """Check ``tokens`` (B, n), 2 <= n <= n_positions, in ``0 .. vocab - 1``, and
        ``labels`` (B, n - 1), if present (for training, ``labels = tokens[:, 1:]``).

        Raises
        ------
        TypeError, ValueError
            As ``check_inputs`` of every model; sequences shorter than 2 or longer than
            ``n_positions`` tokens.
        """
        if isinstance(inputs, dict) and "tokens" in inputs:
            tokens = as_int_array(inputs["tokens"], f"{name}['tokens']", ndim=2)
            if not 2 <= tokens.shape[1] <= self.n_positions:
                raise ValueError(f"{name}['tokens'] must have 2 to n_positions={self.n_positions} tokens "
                                 f"per sequence (a next token to predict); got shape {tokens.shape}")
        return super().check_inputs(inputs, name)

    def forward(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        """Logits for the next token at positions ``0 .. n - 2``, and what backward needs.

        Parameters
        ----------
        inputs : dict
            ``tokens``, int array (batch, n); ``labels`` (batch, n - 1) are checked if present.

        Returns
        -------
        logits : ndarray, shape (batch, n - 1, vocab)
            Row ``t`` predicts token ``t + 1`` (the last position has nothing to predict).
        cache : dict
            Includes ``weights`` (batch, n, n), the attention weights of all ``n`` positions.
        """
        return super().forward(inputs)

    def _all_logits(self, tokens: np.ndarray) -> tuple[np.ndarray, dict]:
        """Logits at every position (batch, n, vocab), the last included; no checks."""
        p = self.params
        n = tokens.shape[1]
        x = p["token"][tokens] + (p["position"][:n] if "position" in p else 0.0)  # (B, n, d)
        q, k, v = x @ p["w_q"], x @ p["w_k"], x @ p["w_v"]  # (B, n, d) each
        out, weights = scaled_dot_product_attention(q, k, v, causal=self.causal)  # (B, n, d), (B, n, n)
        logits = out @ p["w_o"] + p["b_o"]  # (B, n, vocab)
        return logits, {"tokens": tokens, "x": x, "q": q, "k": k, "v": v, "out": out, "weights": weights}

    def _forward(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        logits, cache = self._all_logits(data["tokens"])
        return logits[:, :-1], cache  # (B, n - 1, vocab): the last position predicts nothing

    def _backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        p, x = self.params, cache["x"]
        grad_all = np.zeros(cache["out"].shape[:2] + (self.vocab,))  # (B, n, vocab)
        grad_all[:, :-1] = grad_logits  # the last position's logits feed no loss
        grads = {"w_o": np.einsum("bnd,bnv->dv", cache["out"], grad_all),  # (d, vocab)
                 "b_o": grad_all.sum(axis=(0, 1))}
        grad_out = grad_all @ p["w_o"].T  # (B, n, d)
        grad_q, grad_k, grad_v = scaled_dot_product_attention_backward(
            cache["q"], cache["k"], cache["v"], cache["weights"], grad_out)  # (B, n, d) each
        for name, g in (("w_q", grad_q), ("w_k", grad_k), ("w_v", grad_v)):
            grads[name] = np.einsum("bnd,bne->de", x, g)  # (d, d)
        grad_x = grad_q @ p["w_q"].T + grad_k @ p["w_k"].T + grad_v @ p["w_v"].T  # (B, n, d)
        grads["token"] = _embedding_backward(len(p["token"]), cache["tokens"], grad_x)
        if "position" in p:
            grads["position"] = np.zeros_like(p["position"])
            grads["position"][:x.shape[1]] = grad_x.sum(axis=0)
        return grads
