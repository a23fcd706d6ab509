"""The paper's figures: one spec per figure in `catalog`, drawn by `imagenet` and `mnist` on the
shared grid and style."""
