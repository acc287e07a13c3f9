"""The generic AGOP core: kernel Recursive Feature Machines and the AGOP of any differentiable function.

This package never imports anything musical.
"""
