"""The paper's figures, one module per figure, sharing the helpers in `style`."""
