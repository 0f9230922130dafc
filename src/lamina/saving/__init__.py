"""Serialisation: the class registry and config <-> object conversion."""
from lamina.saving.registry import deserialize as deserialize
from lamina.saving.registry import register_serializable as register_serializable
from lamina.saving.registry import serialize as serialize
