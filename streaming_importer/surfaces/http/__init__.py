"""The running importer's HTTP surfaces: the owner's control socket (and TCP port), the web page.

Both speak the little HTTP of :mod:`~.protocol`, share :mod:`~.serving` and answer through
one :class:`~.routes.Routes`; :mod:`~.client` is how other processes ask.
"""
