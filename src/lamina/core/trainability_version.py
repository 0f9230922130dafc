"""A counter bumped by every change that can alter trainability (flags, freezes, new variables).

Compiled steps and resolutions are looked up by configuration; this counter only tells the
training loop cheaply that it must resolve again before the next step.
"""
_VERSION = 0


def bump():
    global _VERSION
    _VERSION += 1


def current():
    return _VERSION
