"""Training: compile() resolution, pure jitted steps, the Trainer and the fit/evaluate loops."""
