"""The CDK constructs of the restaurant booking system, one concern per module, composed by ``stack.py``."""
