"""nnlab: a neural-network lab built from first principles.

The NumPy engine lives in :mod:`nnlab.engine`; framework-free training utilities
(callbacks, history) in :mod:`nnlab.training`; metrics in :mod:`nnlab.metrics`.
"""

__version__ = "0.1.0"
