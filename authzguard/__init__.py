"""authzguard: declarative object-level authorization for Django.

The policy core (``authzguard.policy``) is pure Python and importable without
Django settings; the Django adapters live in their own modules.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"
__all__ = ["__version__"]
