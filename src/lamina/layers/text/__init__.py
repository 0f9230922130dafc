"""Text and lookup preprocessing on the host: `TextVectorization`, `StringLookup`,
`IntegerLookup` (docs/preprocessing.md)."""
from lamina.layers.text.lookups import IntegerLookup as IntegerLookup
from lamina.layers.text.lookups import StringLookup as StringLookup
from lamina.layers.text.text_vectorization import TextVectorization as TextVectorization

LAYERS = (StringLookup, IntegerLookup, TextVectorization)
