"""Where images come from (archives, layouts, registries) and how their layers are walked."""
