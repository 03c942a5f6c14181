"""The core's own planners and captioners, registered through the same hooks as any plugin's."""
