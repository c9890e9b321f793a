"""Actuators: how the controller changes capacity on each platform (see `controller.Actuator`)."""
