"""Imported by the fork server that `bounded.run_node` forks its children from: Django set up
once, in a process with no other thread, before any child is forked."""

import django

django.setup()
