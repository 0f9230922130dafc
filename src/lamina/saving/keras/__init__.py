"""Keras files, for the layers lamina has: reading Keras 3 `.keras` and `.weights.h5` files
into lamina models, and writing lamina models as Keras 3 `.keras`, `.weights.h5` and Keras's
legacy `.h5` model files.

Reading: `files` reads the archive and HDF5 weights, `importer` walks the model configs,
`functional` rebuilds functional graphs, `layers` maps each Keras layer config to a lamina
layer, `objects` and `options` read Keras's serialized objects and arguments, `weights` sets
the weights, `compile_import` compiles the model from the file's compile config.
Writing: `exporter` writes the files, `export_model` the model configs and weight groups,
`export_objects` the layer configs (and refuses what Keras cannot express),
`export_optimizer` the optimizer state, `legacy_h5` the legacy HDF5 model file.
"""
