"""The MeDiM-style discrete-diffusion generator: layout, tokenizers, model, noise, sampler, training."""
