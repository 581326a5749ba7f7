"""Errors that name what is wrong, where, and what would fix it."""


class NetworkError(ValueError):
    """A network description is invalid (bad parameter, shape, NaN...)."""


class FitError(ValueError):
    """A network does not fit the chip (a per-core or per-chip limit is broken)."""


class SpecError(ValueError):
    """A chip or profile description is invalid."""


class DataError(ValueError):
    """A data file is truncated or malformed, or its events do not fit what was asked."""
