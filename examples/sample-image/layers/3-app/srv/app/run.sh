#!/bin/sh
# The sample application: what a team adds on top of a base image.
exec echo "hello from the hullscan sample image"
