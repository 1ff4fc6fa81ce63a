"""Who asks: the command line, the MCP server, the control socket and port, the web page.

The top of the package: imports anything below it; nothing imports it.
"""
