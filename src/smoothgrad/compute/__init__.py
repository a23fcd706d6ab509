"""What runs a model: predictions, attribution maps and sweeps, MNIST training. Each function
takes built objects (model, methods, settings) and returns or stores arrays; none reads config."""
