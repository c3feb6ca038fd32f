"""The learning machinery: one initialiser, losses, Adam, one training loop, gradient checks, models.

Every model keeps its parameters in a dict of arrays and has ``forward`` and ``backward``
written by hand (no autograd): the chapters that train something show both halves.
"""
