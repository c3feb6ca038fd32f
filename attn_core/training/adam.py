"""Adam (Kingma & Ba, 2015), the optimiser every model of the book is trained with, and
gradient clipping by the global norm (Pascanu, Mikolov & Bengio, 2013).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attn_core._checks import as_gradient, number_in_range, positive_number

__all__ = ["Adam", "clip_by_global_norm"]


def _check_params(params: Any) -> dict[str, np.ndarray]:
    if not isinstance(params, dict) or not params:
        raise TypeError(f"params must be a non-empty dict of name -> float array, got {params!r:.40}")
    for name, value in params.items():
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise TypeError(f"params[{name!r}] must be a float ndarray (updated in place), "
                            f"got {type(value).__name__} {getattr(value, 'dtype', '')}")
    return params


class Adam:
    r"""The Adam optimiser (Kingma & Ba, 2015), updating a dict of parameters in place.

    .. math:: m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad v \leftarrow \beta_2 v + (1 - \beta_2) g^2,
              \quad \theta \leftarrow \theta - \eta \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon}

    Parameters
    ----------
    params : dict of name -> float ndarray
        The parameters, updated in place by :meth:`step`.
    lr : float, default 1e-2
        The step size ``eta``, finite and > 0.
    beta1, beta2 : float, default 0.9 and 0.999
        Decay rates of the running means of ``g`` and ``g**2``, each in ``[0, 1)``.
    eps : float, default 1e-8
        Added to the denominator, finite and > 0.

    Raises
    ------
    TypeError
        ``params`` not a non-empty dict of float arrays; a setting that is not a number.
    ValueError
        A setting out of its range, NaN or infinite.

    Examples
    --------
    >>> params = {"x": np.array([3.0])}
    >>> opt = Adam(params, lr=0.1)
    >>> for _ in range(300):
    ...     opt.step({"x": 2 * params["x"]})       # minimise x**2
    >>> bool(abs(params["x"][0]) < 0.05)
    True
    """

    def __init__(self, params: dict[str, np.ndarray], *, lr: float = 1e-2, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8):
        self.params = _check_params(params)
        self.lr = positive_number(lr, "lr")
        self.beta1 = number_in_range(beta1, "beta1", 0.0, 1.0, high_open=True)
        self.beta2 = number_in_range(beta2, "beta2", 0.0, 1.0, high_open=True)
        self.eps = positive_number(eps, "eps")
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: dict[str, np.ndarray]) -> None:
        """One update of every parameter from its gradient.

        Parameters
        ----------
        grads : dict of name -> array
            One finite array per parameter, of the parameter's shape.

        Raises
        ------
        TypeError, ValueError
            A missing or extra name, a gradient of the wrong shape, or one that is not finite.
        """
        if not isinstance(grads, dict):
            raise TypeError(f"grads must be a dict of name -> array, got {type(grads).__name__}")
        if set(grads) != set(self.params):
            raise ValueError(f"grads must have one entry per parameter: missing "
                             f"{sorted(set(self.params) - set(grads))}, unknown {sorted(set(grads) - set(self.params))}")
        checked = {}
        for name, p in self.params.items():
            checked[name] = as_gradient(grads[name], f"grads[{name!r}]", p.shape)
        self._step(checked)

    def _step(self, grads: dict[str, np.ndarray]) -> None:
        """The kernel of :meth:`step`, without checks (for the training loop)."""
        self.t += 1
        for name, p in self.params.items():
            g = grads[name]
            self.m[name] = self.beta1 * self.m[name] + (1 - self.beta1) * g
            self.v[name] = self.beta2 * self.v[name] + (1 - self.beta2) * g * g
            m_hat = self.m[name] / (1 - self.beta1**self.t)
            v_hat = self.v[name] / (1 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def _clip_by_global_norm(grads: dict[str, np.ndarray], max_norm: float) -> tuple[dict[str, np.ndarray], float]:
    """The kernel of :func:`clip_by_global_norm`, without checks (for the training loop)."""
    norm = float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values())))
    if norm <= max_norm:
        return dict(grads), norm
    scale = max_norm / norm
    return {name: g * scale for name, g in grads.items()}, norm


def clip_by_global_norm(grads: dict[str, np.ndarray], max_norm: float) -> tuple[dict[str, np.ndarray], float]:
    r"""Scale all the gradients together so that their joint L2 norm is at most ``max_norm``.

    The norm is taken over every entry of every parameter's gradient, as if they were one
    vector :math:`g`:

    .. math:: \lVert g \rVert = \sqrt{\textstyle\sum_{\text{name}} \sum_i g_{\text{name}, i}^2},
              \qquad g \leftarrow g \cdot \min\!\left(1, \frac{\text{max\_norm}}{\lVert g \rVert}\right)

    Clipping keeps the direction of the step and bounds its length, so that one exploding
    gradient (a recurrent network's, through many steps) cannot throw the parameters far
    away (Pascanu, Mikolov & Bengio, 2013). Gradients whose norm is at most ``max_norm`` are
    returned unchanged.

    Parameters
    ----------
    grads : dict of name -> array
        One finite array of real numbers per parameter.
    max_norm : float
        The largest norm allowed, finite and > 0.

    Returns
    -------
    clipped : dict of name -> ndarray
        The gradients, scaled by one common factor if their norm exceeded ``max_norm``
        (new arrays; ``grads`` is not changed).
    norm : float
        The global norm before clipping.

    Raises
    ------
    TypeError
        ``grads`` not a non-empty dict of arrays of real numbers; ``max_norm`` not a number.
    ValueError
        A gradient that is NaN or infinite; ``max_norm`` not finite and > 0.

    Examples
    --------
    >>> clipped, norm = clip_by_global_norm({"a": np.array([3.0]), "b": np.array([0.0, 4.0])}, 1.0)
    >>> norm, clipped["a"].tolist(), clipped["b"].tolist()     # norm 5, scaled by 1/5
    (5.0, [0.6], [0.0, 0.8])
    >>> clip_by_global_norm({"a": np.array([0.3])}, 1.0)[0]["a"].tolist()   # below: unchanged
    [0.3]
    """
    if not isinstance(grads, dict) or not grads:
        raise TypeError(f"grads must be a non-empty dict of name -> array, got {grads!r:.40}")
    max_norm = positive_number(max_norm, "max_norm")
    checked = {}
    for name, g in grads.items():
        array = np.asarray(g)
        if array.dtype.kind not in "iuf":
            raise TypeError(f"grads[{name!r}] must hold real numbers, got {g!r:.40}")
        checked[name] = as_gradient(array, f"grads[{name!r}]", array.shape)
    return _clip_by_global_norm(checked, max_norm)
