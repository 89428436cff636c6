"""What differs between pgvector-python versions: the type its ``vector`` loader returns.

``langchain-postgres`` pins pgvector-python below 0.4, whose loader returns a numpy array (and whose
``Vector`` lives in ``pgvector.utils``); 0.4 and later return ``pgvector.Vector``. The adapter
imports neither class and registers the types with ``register_vector_async``, present in both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vecbridge.types import FloatArray


def vector_array(value: Any) -> FloatArray:
    """A loaded ``vector`` value as a float32 array, whichever pgvector-python loaded it (0.3's
    loader already made a fresh float32 array: it is taken as it is, not copied again)."""
    if isinstance(value, np.ndarray) and value.dtype == np.float32:
        return value
    to_numpy = getattr(value, "to_numpy", None)
    return np.array(value if to_numpy is None else to_numpy(), dtype=np.float32)
