"""Turning retrieved evidence into answers: composers, generators and checks."""
