"""Adam (Kingma & Ba, 2015), the optimiser every model of the book is trained with.
"""

from __future__ import annotations

import numpy as np

from attn_core._checks import positive_number

__all__ = ["Adam"]


class Adam:
    r"""The Adam optimiser (Kingma & Ba, 2015), updating a dict of parameters in place.

    .. math:: m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad v \leftarrow \beta_2 v + (1 - \beta_2) g^2,
              \quad \theta \leftarrow \theta - \eta \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon}

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
        self.params = params
        self.lr = positive_number(lr, "lr")
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        for name, p in self.params.items():
            g = grads[name]
            self.m[name] = self.beta1 * self.m[name] + (1 - self.beta1) * g
            self.v[name] = self.beta2 * self.v[name] + (1 - self.beta2) * g * g
            m_hat = self.m[name] / (1 - self.beta1**self.t)
            v_hat = self.v[name] / (1 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
