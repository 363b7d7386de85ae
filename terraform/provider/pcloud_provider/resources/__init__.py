"""The provider's resource types, one module each, on the shared flow in `base`."""
