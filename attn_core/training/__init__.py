"""The learning machinery: one initialiser, losses, Adam, one training loop, gradient checks, models.

Every model keeps its parameters in a dict of arrays and has ``forward`` and ``backward``
written by hand (no autograd): the chapters that train something show both halves.

* :mod:`attn_core.training.init`: :func:`~attn_core.training.init.init_weights`, the one initialiser;
* :mod:`attn_core.training.losses`: cross-entropy, accuracy, the gradient of an embedding lookup;
* :mod:`attn_core.training.adam`: the optimiser, and clipping of the gradients by their global norm;
* :mod:`attn_core.training.loop`: :func:`~attn_core.training.loop.train` (the one training loop,
  on a fixed training set or on fresh examples drawn at every step) and
  :func:`~attn_core.training.loop.evaluate`;
* :mod:`attn_core.training.gradient_check`: a backward pass against finite differences;
* :mod:`attn_core.training.models`: the small models the chapters train (the attention reader
  and its baselines: Elman and gated recurrent readers, pooling and Deep Sets readers; an
  encoder–decoder aligner; a next-token model).
"""
