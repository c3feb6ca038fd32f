"""Three small readers of the associative recall task, each with a hand-written backward pass.

All three read the same inputs (:func:`attn_core.experiments.data.associative_recall`): a sequence of
(key, value) pairs and a query key, and output one logit per possible value.

* :class:`AttentionReader` lets the query attend over all pairs (one attention layer).
* :class:`RecurrentReader` reads the pairs one at a time into a fixed-size state (an Elman
  network, with tanh; Hochreiter & Schmidhuber, 1997, and Bengio et al., 1994, for why its
  memory fades), then combines the final state with the query.
* :class:`PoolingReader` averages the pairs, ignoring the query while reading, then combines
  the average with the query: the same capacity as the recurrent reader's readout, no
  attention.

Each pair is embedded as ``E[key] + E[n_keys + value]`` (the product of a one-hot code of
the pair with a table ``E``); embeddings are parameters like the rest.
"""

from __future__ import annotations

import numpy as np

from attn_core._checks import positive_int
from attn_core.attention import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from attn_core.training.losses import embedding_backward

__all__ = ["AttentionReader", "RecurrentReader", "PoolingReader"]


def _init(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.normal(0.0, 1.0 / np.sqrt(shape[0]), shape)


def _embed_pairs(table: np.ndarray, keys: np.ndarray, values: np.ndarray, n_keys: int) -> np.ndarray:
    return table[keys] + table[n_keys + values]  # (B, L, d)


def _embed_pairs_backward(grad: np.ndarray, shape: tuple[int, ...], keys: np.ndarray,
                          values: np.ndarray, n_keys: int) -> np.ndarray:
    rows = np.concatenate([keys.reshape(-1), n_keys + values.reshape(-1)])
    return embedding_backward(shape[0], rows, np.concatenate([grad.reshape(keys.size, -1)] * 2))


class _Reader:
    """Shared bookkeeping: vocabulary sizes, parameters, parameter count."""

    def __init__(self, n_keys: int, n_values: int, width: int):
        self.n_keys = positive_int(n_keys, "n_keys")
        self.n_values = positive_int(n_values, "n_values")
        self.width = positive_int(width, "width")
        self.params: dict[str, np.ndarray] = {}

    def parameter_count(self) -> int:
        return sum(p.size for p in self.params.values())

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
        rng = np.random.default_rng(seed)
        n_in = n_keys + n_values
        self.params = {
            "w_q": _init(rng, n_keys, width),  # query key -> query vector
            "w_k": _init(rng, n_in, width),  # pair -> key vector
            "w_v": _init(rng, n_in, width),  # pair -> value vector
            "w_o": _init(rng, width, n_values),  # attended value -> logits
            "b_o": np.zeros(n_values),
        }

    def forward(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        p = self.params
        q = p["w_q"][data["query"]][:, None, :]  # (B, 1, d)
        k = _embed_pairs(p["w_k"], data["keys"], data["values"], self.n_keys)  # (B, L, d)
        v = _embed_pairs(p["w_v"], data["keys"], data["values"], self.n_keys)  # (B, L, d)
        read, weights = scaled_dot_product_attention(q, k, v)  # (B, 1, d), (B, 1, L)
        logits = read[:, 0] @ p["w_o"] + p["b_o"]  # (B, n_values)
        return logits, {"q": q, "k": k, "v": v, "read": read, "weights": weights, "data": data}

    def backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        p, data = self.params, cache["data"]
        grads = {"w_o": cache["read"][:, 0].T @ grad_logits, "b_o": grad_logits.sum(0)}
        grad_read = (grad_logits @ p["w_o"].T)[:, None, :]  # (B, 1, d)
        gq, gk, gv = scaled_dot_product_attention_backward(
            cache["q"], cache["k"], cache["v"], cache["weights"], grad_read)
        grads["w_q"] = embedding_backward(self.n_keys, data["query"], gq[:, 0])
        grads["w_k"] = _embed_pairs_backward(gk, p["w_k"].shape, data["keys"], data["values"], self.n_keys)
        grads["w_v"] = _embed_pairs_backward(gv, p["w_v"].shape, data["keys"], data["values"], self.n_keys)
        return grads


class _QueryReadout(_Reader):
    """Readout shared by the baselines: ``logits = tanh(state W_1 + E_q[query] + b_1) W_2 + b_2``."""

    def _readout_params(self, rng: np.random.Generator, state_width: int) -> None:
        self.params.update({
            "w_query": _init(rng, self.n_keys, self.width),
            "w_1": _init(rng, state_width, self.width),
            "b_1": np.zeros(self.width),
            "w_2": _init(rng, self.width, self.n_values),
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
        grads["w_query"] = embedding_backward(self.n_keys, query, grad_pre)
        return grads, grad_pre @ p["w_1"].T  # gradient with respect to the state


class RecurrentReader(_QueryReadout):
    """An Elman network reads the pairs into a fixed-size state, then the readout meets the query.

    ``h_t = tanh(x_t + h_{t-1} W_h + b_h)``, ``h_0 = 0``, with ``x_t`` the pair's embedding.
    The backward pass is backpropagation through time.

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> data = associative_recall(4, n_pairs=5, n_keys=8, n_values=4)
    >>> RecurrentReader(8, 4, width=16).forward(data)[0].shape
    (4, 4)
    """

    def __init__(self, n_keys: int, n_values: int, *, width: int = 32, seed: int = 0):
        super().__init__(n_keys, n_values, width)
        rng = np.random.default_rng(seed)
        self.params = {
            "w_x": _init(rng, n_keys + n_values, width),
            "w_h": np.eye(width) * 0.5 + _init(rng, width, width) * 0.5,
            "b_h": np.zeros(width),
        }
        self._readout_params(rng, width)

    def forward(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        p = self.params
        x = _embed_pairs(p["w_x"], data["keys"], data["values"], self.n_keys)  # (B, L, d)
        hs = [np.zeros((x.shape[0], self.width))]
        for t in range(x.shape[1]):
            hs.append(np.tanh(x[:, t] + hs[-1] @ p["w_h"] + p["b_h"]))  # (B, d)
        logits, z = self._readout(hs[-1], data["query"])
        return logits, {"hs": hs, "z": z, "data": data}

    def backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
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
        grads["w_x"] = _embed_pairs_backward(grad_x, p["w_x"].shape, data["keys"], data["values"], self.n_keys)
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
        rng = np.random.default_rng(seed)
        self.params = {"w_x": _init(rng, n_keys + n_values, width)}
        self._readout_params(rng, width)

    def forward(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        x = _embed_pairs(self.params["w_x"], data["keys"], data["values"], self.n_keys)  # (B, L, d)
        pooled = x.mean(axis=1)  # (B, d): every pair counts the same, whatever the query
        logits, z = self._readout(pooled, data["query"])
        return logits, {"pooled": pooled, "z": z, "length": x.shape[1], "data": data}

    def backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        data = cache["data"]
        grads, grad_pooled = self._readout_backward(cache["pooled"], cache["z"], data["query"], grad_logits)
        grad_x = np.repeat(grad_pooled[:, None, :] / cache["length"], cache["length"], axis=1)  # (B, L, d)
        grads["w_x"] = _embed_pairs_backward(grad_x, self.params["w_x"].shape, data["keys"], data["values"], self.n_keys)
        return grads
