"""One module per ``hedge-monitor`` sub-command; ``monitor.cli`` only wires them."""
