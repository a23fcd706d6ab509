"""The DVC pipeline: config loading and validation, the stage specs and `dvc.yaml`."""
