"""The agents' hooks: ``recall`` (what a hook runs), ``hooks install|uninstall``."""
