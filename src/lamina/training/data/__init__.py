"""Training data for fit / evaluate / predict: in-memory arrays (`arrays`), every other source
and `adapt` (`sources`), epochs, batch preparation and prefetch (`batches`), and array data kept
on the device (`device`)."""
