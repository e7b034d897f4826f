"""OR-Tools imports, shielded from SWIG's import-time DeprecationWarning.

pywraplp's SWIG types warn "builtin type SwigPyPacked has no __module__ attribute" while
the extension initialises; with warnings turned into errors (as in our pytest settings)
that exception inside module init crashes the interpreter, so it is silenced here only.
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"builtin type .* has no __module__",
                            category=DeprecationWarning)
    from ortools.linear_solver import pywraplp  # noqa: F401

__all__ = ["pywraplp"]
