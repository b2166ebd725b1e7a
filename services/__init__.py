"""Palletizer's HTTP front ends: thin Falcon apps over palletizer_lib."""
