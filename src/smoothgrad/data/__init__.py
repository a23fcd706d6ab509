"""The pipeline's inputs: fetching and verifying `data/`, and readers for each data set.

Kept empty on purpose: `python -m smoothgrad.data.fetch` must not pay for importing torch.
"""
